"""The callback wire format: a JSON body and a platform-signed token over its hash.

A callback is ``POST <channel callback_url>`` with

* the body, UTF-8 JSON, compact, keys sorted::

    {"channel_no": "...", "data": {...}, "event": "issued", "id": "42",
     "occurred_at": "2026-01-01T08:00:00+00:00", "sign_no": "..."}

  ``id`` is the notification's id: the same on every retry, so the channel processes
  each notification once (delivery is at least once).
* ``Ecard-Signature``: a compact JWS (ES256, header ``kid`` and
  ``typ: ecard-callback+jwt``) signed with the platform key published in the JWKS.
  The body is *detached*: the token does not carry it but its SHA-256 (``bh``), so
  the token signs exactly the bytes received. Claims: ``iss`` ``"ecard"``, ``aud``
  the channel number, ``iat``, ``exp`` = ``iat`` + 300, ``jti`` = ``<id>.<attempt>``,
  ``bh`` = base64url (no padding) of SHA-256 of the body bytes.
* ``Ecard-Event`` (the event) and ``Ecard-Delivery-Attempt`` (1, 2, ...).

:func:`verify_callback_signature` is the reference check a channel runs (the SDK's
``verify_callback`` does the same); docs/callbacks.md describes it for other languages.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from ecard.notifications.interfaces import InvalidCallback, ReplayGuard
from ecard.notifications.models import Notification
from ecard.tokens.platform_jws import sha256_b64url, verify_detached_body
from ecard.tokens.services import ISSUER, KeyRing

TYP = "ecard-callback+jwt"
TOKEN_TTL_S = 300
TOLERANCE_S = 300
SIGNATURE_HEADER = "Ecard-Signature"
EVENT_HEADER = "Ecard-Event"
ATTEMPT_HEADER = "Ecard-Delivery-Attempt"


def body_hash(body: bytes) -> str:
    return sha256_b64url(body)


def callback_body(note: Notification) -> bytes:
    """The exact bytes POSTed; identical on every attempt of one notification."""
    data = {k: v for k, v in (note.payload or {}).items() if k != "event"}
    document = {"id": str(note.id), "event": note.event, "sign_no": note.sign_no,
                "channel_no": note.channel_no, "occurred_at": note.created_at.isoformat(),
                "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class SignedCallback:
    body: bytes
    headers: dict[str, str]


def sign_callback(keyring: KeyRing, note: Notification, attempt: int, now_s: int) -> \
        SignedCallback:
    """Body and headers of attempt number ``attempt`` (1-based) of ``note``."""
    body = callback_body(note)
    claims = {"iss": ISSUER, "aud": note.channel_no, "iat": now_s, "exp": now_s + TOKEN_TTL_S,
              "jti": f"{note.id}.{attempt}", "bh": body_hash(body)}
    token = keyring.sign(claims, typ=TYP)
    return SignedCallback(body, {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: token, EVENT_HEADER: note.event, ATTEMPT_HEADER: str(attempt),
        "User-Agent": "ecard-callbacks/1",
    })


class MemoryReplayGuard:
    """A process-local :class:`ReplayGuard` (tests, single-process receivers); a
    receiver with several processes keeps the ids in its database or Redis."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def first_use(self, jti: str, expires_at: int) -> bool:
        with self._lock:
            if jti in self._seen:
                return False
            self._seen[jti] = expires_at
            return True


def verify_callback_signature(body: bytes, signature: str, *, jwks: dict[str, Any],
                              channel_no: str, now_s: int,
                              replay_guard: ReplayGuard | None = None,
                              tolerance_s: int = TOLERANCE_S) -> dict[str, Any]:
    """Check a received callback; returns the parsed body. Raises :class:`InvalidCallback`
    (one opaque error) when the signature, ``typ``, ``iss``, ``aud``, the time window
    (``iat`` within ``tolerance_s`` of ``now_s``, ``exp`` not passed), the body hash,
    the body's ``id``/``channel_no`` or the one-time ``jti`` does not hold."""
    claims = verify_detached_body(signature, body, typ=TYP, jwks=jwks, audience=channel_no,
                                  now_s=now_s, tolerance_s=tolerance_s, ttl_s=TOKEN_TTL_S,
                                  error=InvalidCallback)
    jti, exp = claims["jti"], claims["exp"]
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InvalidCallback from exc
    if not isinstance(document, dict) or document.get("channel_no") != channel_no \
            or jti.rsplit(".", 1)[0] != document.get("id"):
        raise InvalidCallback
    if replay_guard is not None and not replay_guard.first_use(jti, exp):
        raise InvalidCallback
    return document
