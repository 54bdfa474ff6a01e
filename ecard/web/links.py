"""Short-lived links that hand one certification session to the H5 page.

A channel asks for a link to a session it started; the answer is
``/h5/certify/<session_id>#t=<token>``. The token travels in the URL fragment (never
sent to a server, never in a Referer) and the page sends it back as a bearer token
to ``/h5/api/...``. It names the session and the channel, carries the return URL the
channel asked for, and expires at the session's deadline.

Format: ``h5t1.<payload>.<mac>``, base64url without padding; the payload is compact
JSON ``{"sid", "ch", "exp", "ret"}`` and the MAC is HMAC-SHA256 over ``h5t1.<payload>``
under a key of its own, derived from the master secret with HKDF (purpose label and
salt used for nothing else), so a link key can never verify a blind index or a
pseudonym. Every refusal is one opaque :class:`InvalidLink` (STYLE: tokens do not
reveal which check failed); comparisons are constant-time; ``*_at_time`` twins take
the time explicitly so tests never sleep.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "h5t1"
_PURPOSE = b"h5-certification-link"
_SALT = b"ecard/h5-link/v1"
MAX_TOKEN_CHARS = 1024


class InvalidLink(Exception):
    """The link token is malformed, forged, for another session, or expired."""


@dataclass(frozen=True)
class LinkClaims:
    session_id: str
    channel_no: str
    expires_at: int  # unix seconds: the session's deadline
    return_url: str | None


def derive_link_key(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT,
                info=_PURPOSE).derive(master)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or len(text) % 4 == 1:
        raise InvalidLink()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidLink() from exc


class LinkSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the link key must be 32 bytes")
        self._key = key

    def _mac(self, signed_part: str) -> bytes:
        return hmac.new(self._key, signed_part.encode(), hashlib.sha256).digest()

    def issue(self, claims: LinkClaims) -> str:
        body: dict[str, Any] = {"sid": claims.session_id, "ch": claims.channel_no,
                                "exp": claims.expires_at}
        if claims.return_url:
            body["ret"] = claims.return_url
        payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        signed_part = f"{PREFIX}.{payload}"
        return f"{signed_part}.{_b64(self._mac(signed_part))}"

    def verify(self, token: str, session_id: str) -> LinkClaims:
        return self.verify_at_time(token, session_id, int(time.time()))

    def verify_at_time(self, token: str, session_id: str, now: int) -> LinkClaims:
        """The claims of ``token`` when it is ours, intact, for ``session_id`` and not
        past its expiry at ``now``; :class:`InvalidLink` otherwise."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise InvalidLink()
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise InvalidLink()
        mac = _unb64(parts[2])
        if not hmac.compare_digest(mac, self._mac(f"{parts[0]}.{parts[1]}")):
            raise InvalidLink()
        try:
            body = json.loads(_unb64(parts[1]))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidLink() from exc
        if not isinstance(body, dict):
            raise InvalidLink()
        sid, ch, exp, ret = body.get("sid"), body.get("ch"), body.get("exp"), body.get("ret")
        if not (isinstance(sid, str) and isinstance(ch, str) and isinstance(exp, int)
                and (ret is None or isinstance(ret, str))):
            raise InvalidLink()
        if not hmac.compare_digest(sid.encode(), session_id.encode()) or now >= exp:
            raise InvalidLink()
        return LinkClaims(session_id=sid, channel_no=ch, expires_at=exp, return_url=ret)
