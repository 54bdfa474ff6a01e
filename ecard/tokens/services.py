"""The platform key ring: ES256 keys with ids, rotation, the JWKS, signing.

Keys live in the database (private halves wrapped under a key derived from the
master secret) so that every process and machine signs with the same active key.
Each process loads them once into ``cryptography`` key objects and reloads after
``refresh_s``: PyJWT given PEM text re-parses it on every call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ecard.audit.services import Actor, AuditLog
from ecard.clock import Clock, SystemClock
from ecard.errors import EcardError
from ecard.protect import DataProtector
from ecard.tokens.interfaces import InvalidToken
from ecard.tokens.models import SigningKey

ISSUER = "ecard"
ALG = "ES256"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: ec.EllipticCurvePublicKey, kid: str) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC", "crv": "P-256", "alg": ALG, "use": "sig", "kid": kid,
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: a key id that is a fact about the key, not a counter."""
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"),
                                       sort_keys=True).encode()).digest()
    return _b64url(digest)[:16]


def create_signing_key(session: Session, protector: DataProtector, clock: Clock,
                       actor: Actor) -> SigningKey:
    """Add a fresh key and make it the active one; the former active key moves to
    ``verifying`` so everything it signed keeps verifying until it is retired."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    jwk = public_jwk(private.public_key(), "")
    kid = jwk_thumbprint(jwk)
    jwk["kid"] = kid
    now = clock.now()
    for old in session.scalars(select(SigningKey).where(SigningKey.status == "active")):
        old.status = "verifying"
    key = SigningKey(kid=kid, alg=ALG, public_jwk=jwk,
                     private_wrapped=protector.wrap(der, f"signing-key:{kid}"),
                     status="active", created_at=now)
    session.add(key)
    session.flush()
    AuditLog(session, clock).record(actor, "signing_key.created", details={"kid": kid})
    return key


def retire_signing_key(session: Session, kid: str, clock: Clock, actor: Actor) -> SigningKey:
    key = session.get(SigningKey, kid)
    if key is None:
        raise EcardError("SIGNING_KEY_NOT_FOUND", details={"kid": kid})
    if key.status == "active":
        raise EcardError("SIGNING_KEY_NOT_FOUND", details={
            "kid": kid, "reason": "the active key cannot be retired; rotate first"},
            message="The active key cannot be retired; run 'ecard keys rotate' first.")
    key.status = "retired"
    key.retired_at = clock.now()
    AuditLog(session, clock).record(actor, "signing_key.retired", details={"kid": kid})
    return key


@dataclass(frozen=True)
class _LoadedKeys:
    active_kid: str | None
    private: dict[str, ec.EllipticCurvePrivateKey]
    public: dict[str, ec.EllipticCurvePublicKey]
    jwks: dict[str, Any]
    loaded_at: float


class KeyRing:
    """Signs and verifies platform tokens (``typ`` distinguishes their purposes)."""

    def __init__(self, sessions: sessionmaker[Session], protector: DataProtector,
                 clock: Clock | None = None, refresh_s: float = 30.0) -> None:
        self._sessions = sessions
        self._protector = protector
        self.clock = clock or SystemClock()
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._keys: _LoadedKeys | None = None

    def _load(self) -> _LoadedKeys:
        private: dict[str, ec.EllipticCurvePrivateKey] = {}
        public: dict[str, ec.EllipticCurvePublicKey] = {}
        published: list[dict[str, str]] = []
        active: str | None = None
        with self._sessions() as session:
            rows = session.scalars(select(SigningKey).where(SigningKey.status != "retired")
                                   .order_by(SigningKey.created_at.desc())).all()
            for row in rows:
                der = self._protector.unwrap(row.private_wrapped, f"signing-key:{row.kid}")
                key = serialization.load_der_private_key(der, password=None)
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                public[row.kid] = key.public_key()
                published.append(dict(row.public_jwk))
                if row.status == "active":
                    active = row.kid
                    private[row.kid] = key
        return _LoadedKeys(active, private, public, {"keys": published}, time.monotonic())

    def keys(self) -> _LoadedKeys:
        loaded = self._keys
        if loaded is None or time.monotonic() - loaded.loaded_at > self._refresh_s:
            with self._lock:
                self._keys = loaded = self._load()
        return loaded

    def reload(self) -> None:
        with self._lock:
            self._keys = self._load()

    def jwks(self) -> dict[str, Any]:
        return self.keys().jwks

    def active_signing_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        """The active kid and its loaded key object, for signers of compact formats
        (identity QR codes, status lists) that are not JWTs."""
        keys = self.keys()
        if keys.active_kid is None:
            raise RuntimeError("no active signing key: run 'ecard init' or 'ecard keys rotate'")
        return keys.active_kid, keys.private[keys.active_kid]

    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Verifying key objects by kid: the active key and those not yet retired."""
        return dict(self.keys().public)

    def sign(self, claims: dict[str, Any], *, typ: str) -> str:
        keys = self.keys()
        if keys.active_kid is None:
            raise RuntimeError("no active signing key: run 'ecard init' or 'ecard keys rotate'")
        return jwt.encode(claims, keys.private[keys.active_kid], algorithm=ALG,
                          headers={"kid": keys.active_kid, "typ": typ})

    def verify(self, token: str, *, typ: str, audience: str | None = None) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            keys = self.keys()
            if kid not in keys.public:
                keys = self._load_if_new_kid(kid)
            if header.get("typ") != typ or header.get("alg") != ALG or kid not in keys.public:
                raise InvalidToken
            # Time is checked against our clock, not PyJWT's, so tests can move it.
            claims: dict[str, Any] = jwt.decode(
                token, keys.public[kid], algorithms=[ALG], issuer=ISSUER, audience=audience,
                options={"require": ["iss", "iat", "exp"], "verify_aud": audience is not None,
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
            now = now_ts(self.clock)
            if not isinstance(claims["exp"], int) or claims["exp"] <= now:
                raise InvalidToken
            return claims
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise InvalidToken from exc

    def _load_if_new_kid(self, kid: Any) -> _LoadedKeys:
        # A key rotated on another machine: reload once rather than wait for the TTL.
        if isinstance(kid, str):
            self.reload()
        return self.keys()


def now_ts(clock: Clock) -> int:
    return int(clock.now().timestamp())
