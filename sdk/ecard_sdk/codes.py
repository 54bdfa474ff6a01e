"""The identity code's text form, verified with ``cryptography`` alone.

``EC1.<payload b64url>.<signature b64url>``; the payload is big-endian binary::

    version u8 (=1) | kid length u8 | kid ASCII | e-card index u64 |
    channel number u64 | scenes u8 (bit n-1 = scene "0n") | iat u32 |
    lifetime u8 (1..60 s) | nonce 12 bytes

signed with ES256 over the ASCII text ``EC1.<payload>``, the signature as raw
``r || s`` with ``s`` in the low half. This module mirrors the platform's verifier
(``ecard.tokens.qr``); the platform's test suite checks the two agree on codes the
platform signs. Time is not checked here: :class:`~ecard_sdk.offline.OfflineVerifier`
does it against its tamper-resistant clock.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SCHEME = "EC1."
VERSION = 1
MAX_LIFETIME_S = 60
MAX_TOKEN_CHARS = 4 + 4 * -(-(2 + 64 + 34) // 3) + 1 + 86
SCENES = ("01", "02", "03", "04")

_TAIL = struct.Struct(">QQBIB12s")
_TAIL_SIZE = _TAIL.size
_ALL_SCENE_BITS = 0b1111
_SCENE_SETS = tuple(frozenset(code for n, code in enumerate(SCENES) if bits >> n & 1)
                    for bits in range(_ALL_SCENE_BITS + 1))
_ECDSA = ec.ECDSA(hashes.SHA256())
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_N = _N // 2
_B64URL_TO_STD = bytes.maketrans(b"-_+/", b"+/-_")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST = {2: frozenset(_ALPHABET[::16]), 3: frozenset(_ALPHABET[::4])}
_PADDING = (b"", b"", b"==", b"=")


class InvalidCode(Exception):
    """The code is not a genuine platform code (one opaque type: which check failed
    is nobody's business at the counter)."""


class UnknownKey(InvalidCode):
    """The code names a key id the cached JWKS does not hold (yet)."""

    def __init__(self, kid: str) -> None:
        super().__init__("unknown key id")
        self.kid = kid


class IdentityClaims(NamedTuple):
    kid: str
    ecard_index: int
    channel_no: str
    scenes: frozenset[str]
    iat: int
    exp: int
    nonce: bytes


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding: only the canonical text decodes."""
    raw = text.encode("ascii")
    rem = len(raw) % 4
    if rem == 1 or (rem and raw[-1] not in _CANONICAL_LAST[rem]):
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(raw.translate(_B64URL_TO_STD) + _PADDING[rem], strict_mode=True)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def verify_code(token: str, keys: Mapping[str, ec.EllipticCurvePublicKey]) -> IdentityClaims:
    """The claims of a code whose signature verifies; :class:`InvalidCode` otherwise
    (:class:`UnknownKey` when only the key id is unknown)."""
    try:
        if len(token) > MAX_TOKEN_CHARS or token[:4] != SCHEME:
            raise ValueError("not an identity code")
        signing_input, dot, sig_text = token.rpartition(".")
        if not dot or len(sig_text) != 86:
            raise ValueError("malformed")
        payload = b64url_decode(signing_input[4:])
        if payload[0] != VERSION:
            raise ValueError("unknown version")
        kid_len = payload[1]
        if len(payload) != 2 + kid_len + _TAIL_SIZE:
            raise ValueError("bad length")
        kid = payload[2:2 + kid_len].decode("ascii")
        public_key = keys.get(kid)
        if public_key is None:
            raise UnknownKey(kid)
        sig = b64url_decode(sig_text)
        s = int.from_bytes(sig[32:], "big")
        if s > _HALF_N:
            raise ValueError("high-s signature")
        public_key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), s),
                          signing_input.encode("ascii"), _ECDSA)
        index, channel, scenes, iat, lifetime, nonce = _TAIL.unpack_from(payload, 2 + kid_len)
        if not 0 < lifetime <= MAX_LIFETIME_S or scenes & ~_ALL_SCENE_BITS or channel >= 10**10:
            raise ValueError("field out of range")
    except UnknownKey:
        raise
    except (ValueError, TypeError, IndexError, struct.error, binascii.Error,
            InvalidSignature, UnicodeError) as exc:
        raise InvalidCode("not a valid identity code") from exc
    return IdentityClaims(kid, index, f"{channel:010d}", _SCENE_SETS[scenes], iat,
                          iat + lifetime, nonce)


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """Key objects by kid (EC P-256 keys only), built once per JWKS fetch."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "kid" not in jwk:
            continue
        x = int.from_bytes(b64url_decode(jwk["x"]), "big")
        y = int.from_bytes(b64url_decode(jwk["y"]), "big")
        keys[str(jwk["kid"])] = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    return keys
