"""Banks (channel type ``bank``): the card's bank sends the level-2 SMS code to its
reserved phone, and receives the pension payout instructions (``payouts.py``).

The bank protocol, our side (the far side is ``samples/reference/bank_server.py``):

``POST <bank>/sms/send`` with a JSON body ``{"phone", "message", "requested_at"}``,
headers ``Ecard-Signature`` (a platform-signed request token bound to the method,
path and body hash, see ``signing.py``) and ``Idempotency-Key`` (set once per
message, before any retry: a retried request that reached the bank the first time is
not sent twice). ``POST <bank>/payout-files`` with ``{"name", "file_b64",
"signature"}`` hands over a payout file the same way. Answers: 2xx accepted; 409
(the same key still in progress), 5xx and network errors are retried with capped,
jittered backoff (at most ``max_retries`` more times, honouring ``Retry-After`` up to
the cap); any other 4xx is a refusal (``BANK_REFUSED``), never retried.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session

from channel_adapters.interfaces import BankError
from channel_adapters.signing import SIGNATURE_HEADER, sign_request
from ecard.protect import mask_phone
from ecard.tokens.attributes import check_scene, entitlement
from ecard.tokens.services import KeyRing

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 5.0
RETRYABLE_STATUSES = frozenset({409}) | frozenset(range(500, 600))


class BankAdapter:
    kind = "bank"
    channel_types = frozenset({"bank"})

    def attributes(self, channel_type: str, scene: str) -> frozenset[str]:
        return entitlement(channel_type, check_scene(scene))

    def shape_notification(self, session: Session, channel_no: str, event: str,
                           payload: dict[str, Any]) -> dict[str, Any]:
        # A bank app hears of its holders' payments like any holder channel; it keys
        # its own records on the sign number it issued, which the payload carries.
        return payload


class BankClient:
    """Speaks the bank protocol to one bank (``bank_code`` is the token audience)."""

    def __init__(self, base_url: str, bank_code: str, keyring: KeyRing, *,
                 max_retries: int = 2, timeout_s: tuple[float, float] = (3.0, 10.0),
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None,
                 session: requests.Session | None = None,
                 now_s: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.bank_code = bank_code
        self.keyring = keyring
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311  (timing jitter, not a secret)
        self._http = session or requests.Session()
        self._now_s = now_s  # signs each attempt afresh (its iat and one-time jti)

    # -- calls -----------------------------------------------------------------
    def send_sms(self, phone: str, message: str, *, requested_at: datetime,
                 idempotency_key: str | None = None) -> dict[str, Any]:
        body = {"phone": phone, "message": message, "requested_at": requested_at.isoformat()}
        answer = self._post("/sms/send", body, idempotency_key or f"sms-{uuid.uuid4().hex}")
        log.info("bank %s accepted an SMS to %s", self.bank_code, mask_phone(phone))
        return answer

    def submit_payout_file(self, name: str, data: bytes, signature: str) -> dict[str, Any]:
        body = {"name": name, "file_b64": base64.b64encode(data).decode(),
                "signature": signature}
        # The key is the file name: one batch is one delivery, however often it is sent.
        return self._post("/payout-files", body, f"payout-{name}")

    # -- the protocol ----------------------------------------------------------
    def _post(self, path: str, document: dict[str, Any], key: str) -> dict[str, Any]:
        url = self.base_url + path
        sign_path = urlsplit(url).path
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True).encode("utf-8")
        last = "no attempt"
        last_retry_after: float | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(self._backoff_s(attempt, last_retry_after))
            last_retry_after = None
            token = sign_request(self.keyring, audience=self.bank_code, method="POST",
                                 path=sign_path, body=body, now_s=int(self._now_s()))
            headers = {"Content-Type": "application/json; charset=utf-8",
                       SIGNATURE_HEADER: token, "Idempotency-Key": key,
                       "User-Agent": "ecard-bank-client/1"}
            try:
                response = self._http.post(url, data=body, headers=headers,
                                           timeout=self.timeout_s, allow_redirects=False)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}"
                continue
            if 200 <= response.status_code < 300:
                answer: dict[str, Any] = response.json() if response.content else {}
                return answer
            if response.status_code not in RETRYABLE_STATUSES:
                raise BankError("BANK_REFUSED", details={
                    "bank_code": self.bank_code, "status": response.status_code,
                    "bank_answer_code": _answer_code(response)})
            last = f"HTTP {response.status_code}"
            last_retry_after = _retry_after(response)
        log.warning("bank %s unavailable after %s attempts: %s", self.bank_code,
                    self.max_retries + 1, last)
        raise BankError("BANK_UNAVAILABLE", details={"bank_code": self.bank_code,
                                                     "attempts": self.max_retries + 1,
                                                     "last_error": last})

    def _backoff_s(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_S)
        return min(MAX_BACKOFF_S, self._add_jitter(0.5 * 2 ** (attempt - 1)))

    def _add_jitter(self, seconds: float) -> float:
        """The one place randomness enters: ``seconds`` × [0.75, 1.25]."""
        return seconds * self._rng.uniform(0.75, 1.25)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _answer_code(response: requests.Response) -> str | None:
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return str(code)[:64] if code else None


class BankSmsGateway:
    """The platform's :class:`ecard.payments.sms.SmsGateway` through the card's bank:
    the bank sends the code to the phone it reserved for the account. A refusal or
    an unreachable bank raises :class:`BankError`, so the level-2 request fails with
    ``BANK_UNAVAILABLE``/``BANK_REFUSED`` and nothing of it is kept."""

    def __init__(self, client: BankClient) -> None:
        self.client = client

    def send(self, phone: str, text: str, *, sent_at: datetime) -> None:
        self.client.send_sms(phone, text, requested_at=sent_at)
