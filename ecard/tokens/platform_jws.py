"""The platform's own ES256 tokens over outbound bytes, checked by whoever receives them.

Callbacks to a channel (``ecard.notifications.signing``), requests to a bank and payout
files (``channel_adapters.signing``) are all a compact JWS signed with a key from the
platform's JWKS, ``iss`` ``"ecard"``, ``aud`` the receiver, and, for a request or a
callback, a detached body (``bh``: base64url SHA-256 of the bytes) inside a short
``iat``..``exp`` window. The receiver's checks live here once; each caller adds what
its purpose needs and names its own opaque error (``error``), whatever check failed.

Imports neither the database nor Flask: a bank or a channel verifies with this alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import jwt

ISSUER = "ecard"  # ecard.tokens.services.ISSUER (a test keeps them equal)


def sha256_b64url(data: bytes) -> str:
    """base64url (no padding) of the SHA-256 of ``data``: the ``bh`` and ``fh`` claims."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def public_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """P-256 verifying keys by ``kid`` from a JWKS document."""
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256" and isinstance(
                jwk.get("kid"), str):
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="ES256").key
    return keys


def decode_platform_jws(token: str, *, typ: str, jwks: dict[str, Any], audience: str,
                        error: type[Exception]) -> dict[str, Any]:
    """Signature, ``alg``, ``typ``, ``kid`` in the JWKS, ``iss`` and ``aud``; the
    caller checks the times that apply to its purpose. Raises ``error``."""
    try:
        header = jwt.get_unverified_header(token)
        keys = public_keys(jwks)
        kid = header.get("kid")
        if header.get("alg") != "ES256" or header.get("typ") != typ or kid not in keys:
            raise error
        claims: dict[str, Any] = jwt.decode(
            token, keys[kid], algorithms=["ES256"], issuer=ISSUER, audience=audience,
            options={"require": ["iss", "aud", "iat"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False})
        return claims
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise error from exc


def verify_detached_body(token: str, body: bytes, *, typ: str, jwks: dict[str, Any],
                         audience: str, now_s: int, tolerance_s: int, ttl_s: int,
                         error: type[Exception]) -> dict[str, Any]:
    """:func:`decode_platform_jws`, then the window (``iat`` within ``tolerance_s`` of
    ``now_s``, ``exp`` not passed, at most ``ttl_s`` after ``iat``), a string ``jti``
    and ``bh`` equal to the hash of ``body``. Returns the claims; raises ``error``."""
    claims = decode_platform_jws(token, typ=typ, jwks=jwks, audience=audience, error=error)
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    if not (isinstance(iat, int) and isinstance(exp, int) and isinstance(jti, str)):
        raise error
    if abs(now_s - iat) > tolerance_s or exp <= now_s or exp - iat > ttl_s:
        raise error
    if not hmac.compare_digest(str(claims.get("bh")), sha256_b64url(body)):
        raise error
    return claims
