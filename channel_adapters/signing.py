"""How the platform signs what it sends to a channel's own systems.

Requests (platform → bank, e.g. "send this code to the reserved phone"): header
``Ecard-Signature`` carries a compact JWS (ES256, ``kid`` from the JWKS at
``/.well-known/jwks.json``, ``typ: ecard-request+jwt``) with claims ``iss``
``"ecard"``, ``aud`` the receiver (the bank code), ``iat``, ``exp`` = ``iat`` + 60,
``jti`` (random, one-time), ``htm`` (method), ``htu`` (path) and ``bh`` (base64url
SHA-256 of the body). The receiver verifies with :func:`verify_request`.

Files (platform → bank payout files): a detached JWS in ``<file>.sig`` (``typ:
ecard-payout+jwt``) whose claims name the file and carry its SHA-256 (``fh``), so
the token signs exactly the bytes of the file; see ``payoutfile.py``.

Both raise one opaque :class:`InvalidSignature` whatever check failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:  # verifiers (a bank) import this module without the database stack
    from ecard.tokens.services import KeyRing

ISSUER = "ecard"  # ecard.tokens.services.ISSUER (a test keeps them equal)

REQUEST_TYP = "ecard-request+jwt"
REQUEST_TTL_S = 60
REQUEST_TOLERANCE_S = 60
SIGNATURE_HEADER = "Ecard-Signature"


class InvalidSignature(Exception):
    """A signed request or file did not verify (one opaque error)."""


def sha256_b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def sign_request(keyring: KeyRing, *, audience: str, method: str, path: str, body: bytes,
                 now_s: int) -> str:
    claims = {"iss": ISSUER, "aud": audience, "iat": now_s, "exp": now_s + REQUEST_TTL_S,
              "jti": secrets.token_urlsafe(16), "htm": method.upper(), "htu": path,
              "bh": sha256_b64url(body)}
    return keyring.sign(claims, typ=REQUEST_TYP)


def public_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """P-256 verifying keys by ``kid`` from a JWKS document."""
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256" and isinstance(
                jwk.get("kid"), str):
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="ES256").key
    return keys


def decode_platform_jws(token: str, *, typ: str, jwks: dict[str, Any],
                        audience: str) -> dict[str, Any]:
    """Signature, ``alg``, ``typ``, ``kid`` in the JWKS, ``iss`` and ``aud``; the
    caller checks the times that apply to its purpose."""
    try:
        header = jwt.get_unverified_header(token)
        keys = public_keys(jwks)
        kid = header.get("kid")
        if header.get("alg") != "ES256" or header.get("typ") != typ or kid not in keys:
            raise InvalidSignature
        claims: dict[str, Any] = jwt.decode(
            token, keys[kid], algorithms=["ES256"], issuer=ISSUER, audience=audience,
            options={"require": ["iss", "aud", "iat"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False})
        return claims
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidSignature from exc


def verify_request(*, token: str, method: str, path: str, body: bytes,
                   jwks: dict[str, Any], audience: str, now_s: int,
                   first_use: Callable[[str, int], bool] | None = None) -> dict[str, Any]:
    """The receiver's check of a signed platform request; returns the claims."""
    claims = decode_platform_jws(token, typ=REQUEST_TYP, jwks=jwks, audience=audience)
    try:
        iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
        if not (isinstance(iat, int) and isinstance(exp, int) and isinstance(jti, str)):
            raise InvalidSignature
        if abs(now_s - iat) > REQUEST_TOLERANCE_S or exp <= now_s or \
                exp - iat > REQUEST_TTL_S:
            raise InvalidSignature
        if claims.get("htm") != method.upper() or claims.get("htu") != path:
            raise InvalidSignature
        if not hmac.compare_digest(str(claims.get("bh")), sha256_b64url(body)):
            raise InvalidSignature
        if first_use is not None and not first_use(jti, exp):
            raise InvalidSignature
        return claims
    except KeyError as exc:
        raise InvalidSignature from exc
