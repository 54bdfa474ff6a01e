"""Compact JWS with ES256, on ``cryptography`` alone (no PyJWT).

Why not PyJWT: the SDK already needs ``cryptography`` (the offline verifier), the
two token shapes it handles (the channel token it signs, the callback token it
verifies) are small and fixed, and PyJWT is a classic source of version clashes in
the servers channels embed us in (1.x and 2.x differ in ``encode``'s return type and
``decode``'s arguments). Signing here is one ECDSA call plus base64; the header is
encoded once per key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_B64URL_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """base64url without padding; anything else (padding, '+', '/', spaces) refused."""
    raw = text.encode("ascii")
    if len(raw) % 4 == 1 or not _B64URL_ALPHABET.issuperset(raw):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def sha256_b64url(data: bytes) -> str:
    """base64url (no padding) of SHA-256 over ``data``: the ``bh`` claim."""
    return b64url(hashlib.sha256(data).digest())


def json_segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def sign_es256(private_key: ec.EllipticCurvePrivateKey, header_segment: str,
               claims: dict[str, Any]) -> str:
    """``header.claims.signature`` with the signature as raw ``r || s`` (low ``s``)."""
    signing_input = f"{header_segment}.{json_segment(claims)}"
    r, s = decode_dss_signature(private_key.sign(signing_input.encode("ascii"), ECDSA_SHA256))
    if s > P256_ORDER // 2:
        s = P256_ORDER - s
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def split_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, raw signature) of a compact JWS, unverified.
    Raises ``ValueError`` when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError("not a compact JWS") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict) or len(signature) != 64:
        raise ValueError("not a compact JWS")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def verify_es256(public_key: ec.EllipticCurvePublicKey, signing_input: bytes,
                 signature: bytes) -> None:
    """Raises ``cryptography.exceptions.InvalidSignature`` when it does not verify."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    public_key.verify(encode_dss_signature(r, s), signing_input, ECDSA_SHA256)
