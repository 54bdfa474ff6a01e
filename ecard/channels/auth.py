"""Channel authentication: the protocol of ``docs/channel-auth.md``.

Checks run in a fixed order and each failure has its own code:

1. an ``Authorization: Bearer`` header is present          AUTH_MISSING
2. the JWS header reads (typ, alg ES256, kid), claims read  AUTH_MALFORMED
3. ``iss`` is a 10-digit channel number                     AUTH_MALFORMED
4. the channel exists                                       AUTH_UNKNOWN_CHANNEL
5. the key id exists for that channel and is active         AUTH_UNKNOWN_KEY
6. the signature verifies                                   AUTH_BAD_SIGNATURE
7. ``aud`` is ``ecard-api``                                 AUTH_BINDING_MISMATCH
8. lifetime, not-before (with skew), expiry                 AUTH_LIFETIME_TOO_LONG,
                                                            AUTH_NOT_YET_VALID, AUTH_EXPIRED
9. ``htm``, ``htu``, ``bh`` match this request              AUTH_BINDING_MISMATCH
10. the channel is ``testing`` or ``online``                CHANNEL_SUSPENDED,
                                                            CHANNEL_NOT_ONLINE (403)
11. the ``jti`` was never used                              AUTH_REPLAYED

The one-time ``jti`` is claimed last, so a token refused for any other reason does
not burn its id. Details are only given after the signature has verified: an
unauthenticated caller learns no more than the code.

The JWS is parsed and verified here with ``cryptography`` directly: PyJWT's decode
runs at about half the rate of a raw ES256 verify, and the protocol is small.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ecard.channels.interfaces import (
    CALLABLE_STATUSES,
    AuthenticatedChannel,
    ChannelAuthError,
    ChannelForbidden,
    ReplayGuard,
)
from ecard.channels.keys import load_public_pem
from ecard.channels.models import Channel, ChannelKey
from ecard.clock import Clock

TOKEN_TYP = "ecard-channel+jwt"  # noqa: S105 (a JWS "typ", not a secret)
AUDIENCE = "ecard-api"
ALG = "ES256"
KEY_TTL_S = 30.0
STATUS_TTL_S = 5.0

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_JTI = re.compile(r"[A-Za-z0-9_-]{16,128}")
_CHANNEL_NO = re.compile(r"[0-9]{10}")
_MAX_TOKEN_CHARS = 8192
_ECDSA = ec.ECDSA(hashes.SHA256())

Sessions = Session | sessionmaker[Session]


def body_hash(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()


def _b64decode(part: str) -> bytes:
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass(frozen=True)
class ChannelSnapshot:
    """What authentication needs to know about a channel, read in one query."""

    channel_no: str
    name: str
    type: str
    parent_no: str | None
    status: str

    @property
    def level(self) -> int:
        return 2 if self.parent_no else 1


class ChannelDirectory:
    """Per-process caches in front of the ``channels`` and ``channel_keys`` tables.

    Public keys are cached as loaded ``cryptography`` objects per (channel, kid) for
    ``key_ttl_s`` (30 s), so the hot path neither re-parses PEM nor queries keys on
    every call; a retired key therefore stops working within 30 s on every process.
    A channel's status is cached for ``status_ttl_s`` (5 s) only: suspending a channel
    takes effect everywhere within 5 s. Misses (unknown channel or kid) are never
    cached, so a channel or key added a moment ago is seen at once.
    """

    def __init__(self, sessions: sessionmaker[Session] | None = None, *,
                 key_ttl_s: float = KEY_TTL_S, status_ttl_s: float = STATUS_TTL_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._key_ttl = key_ttl_s
        self._status_ttl = status_ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._channels: dict[str, tuple[float, ChannelSnapshot]] = {}
        self._keys: dict[tuple[str, str], tuple[float, ec.EllipticCurvePublicKey]] = {}

    def _session(self, given: Session | None) -> tuple[Session, bool]:
        if given is not None:
            return given, False
        if self._sessions is None:
            raise RuntimeError("ChannelDirectory needs a session or a sessionmaker")
        return self._sessions(), True

    def channel(self, channel_no: str, session: Session | None = None) -> ChannelSnapshot | None:
        now = self._monotonic()
        hit = self._channels.get(channel_no)
        if hit is not None and now - hit[0] < self._status_ttl:
            return hit[1]
        db, owned = self._session(session)
        try:
            row = db.execute(select(Channel.channel_no, Channel.name, Channel.type,
                                    Channel.parent_no, Channel.status)
                             .where(Channel.channel_no == channel_no)).one_or_none()
        finally:
            if owned:
                db.close()
        if row is None:
            with self._lock:
                self._channels.pop(channel_no, None)
            return None
        snapshot = ChannelSnapshot(*row)
        with self._lock:
            self._channels[channel_no] = (now, snapshot)
        return snapshot

    def key(self, channel_no: str, kid: str,
            session: Session | None = None) -> ec.EllipticCurvePublicKey | None:
        now = self._monotonic()
        hit = self._keys.get((channel_no, kid))
        if hit is not None and now - hit[0] < self._key_ttl:
            return hit[1]
        db, owned = self._session(session)
        try:
            pem = db.scalars(select(ChannelKey.public_pem).where(
                ChannelKey.channel_no == channel_no, ChannelKey.kid == kid,
                ChannelKey.status == "active")).first()
        finally:
            if owned:
                db.close()
        if pem is None:
            with self._lock:
                self._keys.pop((channel_no, kid), None)
            return None
        key = load_public_pem(pem)
        with self._lock:
            self._keys[(channel_no, kid)] = (now, key)
        return key

    def forget(self) -> None:
        with self._lock:
            self._channels.clear()
            self._keys.clear()


def _refuse(code: str, **details: Any) -> ChannelAuthError:
    return ChannelAuthError(code, details=details or None)


def _parse_authorization(header: str | None) -> str:
    if header is None or not header.strip():
        raise _refuse("AUTH_MISSING")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
        raise _refuse("AUTH_MALFORMED")
    return token


@dataclass(frozen=True)
class _Jws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _parse_jws(token: str) -> _Jws:
    parts = token.split(".")
    if len(parts) != 3:
        raise _refuse("AUTH_MALFORMED")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _refuse("AUTH_MALFORMED") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _refuse("AUTH_MALFORMED")
    kid = header.get("kid")
    if (header.get("typ") != TOKEN_TYP or header.get("alg") != ALG
            or not isinstance(kid, str) or not kid or len(kid) > 64 or "crit" in header):
        raise _refuse("AUTH_MALFORMED")
    return _Jws(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def _verify_signature(key: ec.EllipticCurvePublicKey, jws: _Jws) -> None:
    if len(jws.signature) != 64:
        raise _refuse("AUTH_BAD_SIGNATURE")
    r = int.from_bytes(jws.signature[:32], "big")
    s = int.from_bytes(jws.signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), jws.signing_input, _ECDSA)
    except InvalidSignature as exc:
        raise _refuse("AUTH_BAD_SIGNATURE") from exc


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse("AUTH_MALFORMED", claim=name, reason="must be an integer (unix seconds)")
    return value


def _str_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        raise _refuse("AUTH_MALFORMED", claim=name, reason="missing or not a string")
    return value


class ChannelAuthenticator:
    """Authenticates requests for one app: holds the caches and the replay guard."""

    def __init__(self, sessions: sessionmaker[Session] | None, replay_guard: ReplayGuard,
                 clock: Clock, *, max_age_s: int = 300, skew_s: int = 30,
                 directory: ChannelDirectory | None = None) -> None:
        self.replay_guard = replay_guard
        self.clock = clock
        self.max_age_s = max_age_s
        self.skew_s = skew_s
        self.directory = directory or ChannelDirectory(sessions)

    @classmethod
    def from_config(cls, config: dict[str, Any], sessions: sessionmaker[Session],
                    replay_guard: ReplayGuard, clock: Clock) -> ChannelAuthenticator:
        return cls(sessions, replay_guard, clock,
                   max_age_s=int(config.get("CHANNEL_TOKEN_MAX_AGE_S", 300)),
                   skew_s=int(config.get("CLOCK_SKEW_S", 30)))

    def authenticate(self, *, method: str, path_with_query: str, body: bytes,
                     authorization_header: str | None,
                     session: Session | None = None) -> AuthenticatedChannel:
        token = _parse_authorization(authorization_header)
        jws = _parse_jws(token)
        iss = jws.claims.get("iss")
        if not isinstance(iss, str) or not _CHANNEL_NO.fullmatch(iss):
            raise _refuse("AUTH_MALFORMED")
        channel = self.directory.channel(iss, session)
        if channel is None:
            raise _refuse("AUTH_UNKNOWN_CHANNEL")
        kid: str = jws.header["kid"]
        key = self.directory.key(iss, kid, session)
        if key is None:
            raise _refuse("AUTH_UNKNOWN_KEY")
        _verify_signature(key, jws)
        # -- from here on the caller holds the channel's key: details may help it.
        claims = jws.claims
        aud = claims.get("aud")
        if aud != AUDIENCE and not (isinstance(aud, list) and AUDIENCE in aud):
            raise _refuse("AUTH_BINDING_MISMATCH", claim="aud", expected=AUDIENCE)
        iat, exp = _int_claim(claims, "iat"), _int_claim(claims, "exp")
        jti = _str_claim(claims, "jti")
        if not _JTI.fullmatch(jti):
            raise _refuse("AUTH_MALFORMED", claim="jti", reason="16-128 URL-safe characters")
        htm, htu, bh = (_str_claim(claims, n) for n in ("htm", "htu", "bh"))
        if exp <= iat:
            raise _refuse("AUTH_MALFORMED", claim="exp", reason="exp must be after iat")
        if exp - iat > self.max_age_s:
            raise _refuse("AUTH_LIFETIME_TOO_LONG", max_lifetime_s=self.max_age_s)
        now = self.clock.now().timestamp()
        if iat > now + self.skew_s:
            raise _refuse("AUTH_NOT_YET_VALID", server_time=int(now))
        if exp <= now:
            raise _refuse("AUTH_EXPIRED", server_time=int(now))
        if htm != method.upper():
            raise _refuse("AUTH_BINDING_MISMATCH", claim="htm")
        if htu != path_with_query:
            raise _refuse("AUTH_BINDING_MISMATCH", claim="htu")
        if not hmac.compare_digest(bh.encode(), body_hash(body).encode()):
            raise _refuse("AUTH_BINDING_MISMATCH", claim="bh")
        if channel.status not in CALLABLE_STATUSES:
            code = "CHANNEL_SUSPENDED" if channel.status == "suspended" else "CHANNEL_NOT_ONLINE"
            raise ChannelForbidden(code, details={"status": channel.status})
        expires_at = datetime.fromtimestamp(exp, UTC)
        if not self.replay_guard.claim(iss, jti, expires_at):
            raise _refuse("AUTH_REPLAYED")
        return AuthenticatedChannel(
            channel_no=channel.channel_no, name=channel.name, type=channel.type,
            level=channel.level, status=channel.status, parent_no=channel.parent_no,
            kid=kid, jti=jti, expires_at=expires_at, claims=claims)


def authenticate(sessions: Sessions, replay_guard: ReplayGuard, *, method: str,
                 path_with_query: str, body: bytes, authorization_header: str | None,
                 clock: Clock, config: dict[str, Any],
                 directory: ChannelDirectory | None = None) -> AuthenticatedChannel:
    """One-call form of :meth:`ChannelAuthenticator.authenticate`.

    Pass a long-lived ``directory`` to keep its caches between calls; the app does
    this through the authenticator it builds once (``ecard.channels.init_app``).
    """
    session = sessions if isinstance(sessions, Session) else None
    maker = None if isinstance(sessions, Session) else sessions
    auth = ChannelAuthenticator(
        maker, replay_guard, clock, max_age_s=int(config.get("CHANNEL_TOKEN_MAX_AGE_S", 300)),
        skew_s=int(config.get("CLOCK_SKEW_S", 30)), directory=directory)
    return auth.authenticate(method=method, path_with_query=path_with_query, body=body,
                             authorization_header=authorization_header, session=session)
