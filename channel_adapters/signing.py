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

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ecard.tokens import platform_jws
from ecard.tokens.platform_jws import ISSUER, public_keys, sha256_b64url

if TYPE_CHECKING:  # verifiers (a bank) import this module without the database stack
    from ecard.tokens.services import KeyRing

__all__ = ["ISSUER", "InvalidSignature", "decode_platform_jws", "public_keys",
           "sha256_b64url", "sign_request", "verify_request"]

REQUEST_TYP = "ecard-request+jwt"
REQUEST_TTL_S = 60
REQUEST_TOLERANCE_S = 60
SIGNATURE_HEADER = "Ecard-Signature"


class InvalidSignature(Exception):
    """A signed request or file did not verify (one opaque error)."""


def sign_request(keyring: KeyRing, *, audience: str, method: str, path: str, body: bytes,
                 now_s: int) -> str:
    claims = {"iss": ISSUER, "aud": audience, "iat": now_s, "exp": now_s + REQUEST_TTL_S,
              "jti": secrets.token_urlsafe(16), "htm": method.upper(), "htu": path,
              "bh": sha256_b64url(body)}
    return keyring.sign(claims, typ=REQUEST_TYP)


def decode_platform_jws(token: str, *, typ: str, jwks: dict[str, Any],
                        audience: str) -> dict[str, Any]:
    """:func:`ecard.tokens.platform_jws.decode_platform_jws` raising
    :class:`InvalidSignature`."""
    return platform_jws.decode_platform_jws(token, typ=typ, jwks=jwks, audience=audience,
                                            error=InvalidSignature)


def verify_request(*, token: str, method: str, path: str, body: bytes,
                   jwks: dict[str, Any], audience: str, now_s: int,
                   first_use: Callable[[str, int], bool] | None = None) -> dict[str, Any]:
    """The receiver's check of a signed platform request; returns the claims."""
    claims = platform_jws.verify_detached_body(
        token, body, typ=REQUEST_TYP, jwks=jwks, audience=audience, now_s=now_s,
        tolerance_s=REQUEST_TOLERANCE_S, ttl_s=REQUEST_TTL_S, error=InvalidSignature)
    if claims.get("htm") != method.upper() or claims.get("htu") != path:
        raise InvalidSignature
    if first_use is not None and not first_use(claims["jti"], claims["exp"]):
        raise InvalidSignature
    return claims
