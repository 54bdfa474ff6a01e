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

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

import jwt

from ecard.notifications.interfaces import InvalidCallback, ReplayGuard
from ecard.notifications.models import Notification
from ecard.tokens.services import ISSUER, KeyRing

TYP = "ecard-callback+jwt"
TOKEN_TTL_S = 300
TOLERANCE_S = 300
SIGNATURE_HEADER = "Ecard-Signature"
EVENT_HEADER = "Ecard-Event"
ATTEMPT_HEADER = "Ecard-Delivery-Attempt"


def body_hash(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()


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


def _public_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256" and isinstance(
                jwk.get("kid"), str):
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="ES256").key
    return keys


def verify_callback_signature(body: bytes, signature: str, *, jwks: dict[str, Any],
                              channel_no: str, now_s: int,
                              replay_guard: ReplayGuard | None = None,
                              tolerance_s: int = TOLERANCE_S) -> dict[str, Any]:
    """Check a received callback; returns the parsed body. Raises :class:`InvalidCallback`
    (one opaque error) when the signature, ``typ``, ``iss``, ``aud``, the time window
    (``iat`` within ``tolerance_s`` of ``now_s``, ``exp`` not passed), the body hash,
    the body's ``id``/``channel_no`` or the one-time ``jti`` does not hold."""
    try:
        header = jwt.get_unverified_header(signature)
        keys = _public_keys(jwks)
        kid = header.get("kid")
        if header.get("alg") != "ES256" or header.get("typ") != TYP or kid not in keys:
            raise InvalidCallback
        claims: dict[str, Any] = jwt.decode(
            signature, keys[kid], algorithms=["ES256"], issuer=ISSUER, audience=channel_no,
            options={"require": ["iss", "aud", "iat", "exp", "jti", "bh"],
                     "verify_exp": False, "verify_iat": False, "verify_nbf": False})
        iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
        if not (isinstance(iat, int) and isinstance(exp, int) and isinstance(jti, str)):
            raise InvalidCallback
        if abs(now_s - iat) > tolerance_s or exp <= now_s or exp - iat > TOKEN_TTL_S:
            raise InvalidCallback
        if not hmac.compare_digest(str(claims["bh"]), body_hash(body)):
            raise InvalidCallback
        document = json.loads(body)
        if not isinstance(document, dict) or document.get("channel_no") != channel_no \
                or jti.rsplit(".", 1)[0] != document.get("id"):
            raise InvalidCallback
        if replay_guard is not None and not replay_guard.first_use(jti, exp):
            raise InvalidCallback
        return document
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidCallback from exc
