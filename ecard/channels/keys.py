"""Reading a channel's public key, given as PEM or as a JWK, into one stored form."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecard.channels.interfaces import ChannelKeyInvalid
from ecard.errors import ValidationFailed
from ecard.tokens.services import jwk_thumbprint, public_jwk

KID_RE = re.compile(r"[A-Za-z0-9._~-]{1,64}")


@dataclass(frozen=True)
class ParsedKey:
    public_key: ec.EllipticCurvePublicKey
    pem: str
    thumbprint_kid: str


def _b64url_decode(value: str) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _from_jwk(text: str) -> ec.EllipticCurvePublicKey:
    try:
        jwk = json.loads(text)
    except ValueError as exc:
        raise ChannelKeyInvalid(details={"reason": "not PEM and not JSON"}) from exc
    if not isinstance(jwk, dict):
        raise ChannelKeyInvalid(details={"reason": "a JWK must be a JSON object"})
    if "d" in jwk:
        raise ChannelKeyInvalid(
            details={"reason": "this JWK holds a private key; send only the public half"},
            message="This is a private key. Send only the public key (without \"d\").")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ChannelKeyInvalid(details={"reason": "the JWK must have kty EC and crv P-256"})
    try:
        x, y = _b64url_decode(jwk["x"]), _b64url_decode(jwk["y"])
        if len(x) != 32 or len(y) != 32:
            raise ValueError("coordinates must be 32 bytes")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"),
                                                int.from_bytes(y, "big"), ec.SECP256R1())
        return numbers.public_key()
    except (KeyError, ValueError, binascii.Error) as exc:
        raise ChannelKeyInvalid(details={"reason": "the JWK's x and y are not a P-256 point"}
                                ) from exc


def _from_pem(text: str) -> ec.EllipticCurvePublicKey:
    if "PRIVATE KEY" in text:
        raise ChannelKeyInvalid(
            details={"reason": "this PEM holds a private key; send only the public half"},
            message="This is a private key. Send only the public key (BEGIN PUBLIC KEY).")
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise ChannelKeyInvalid(details={"reason": "the PEM cannot be read"}) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve,
                                                                        ec.SECP256R1):
        raise ChannelKeyInvalid(details={"reason": "the key is not an EC P-256 key"})
    return key


def parse_public_key(text: str) -> ParsedKey:
    """Accept ``-----BEGIN PUBLIC KEY-----`` PEM or a JWK object (kty EC, crv P-256);
    anything else, other curves, RSA and private keys are refused."""
    text = text.strip()
    if not text:
        raise ChannelKeyInvalid(details={"reason": "no key given"})
    key = _from_pem(text) if text.startswith("-----BEGIN") else _from_jwk(text)
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return ParsedKey(key, pem, jwk_thumbprint(public_jwk(key, "")))


def check_kid(kid: str) -> str:
    if not KID_RE.fullmatch(kid):
        raise ValidationFailed(details={"fields": {"kid": [
            "1 to 64 characters from A-Z a-z 0-9 . _ ~ -"]}})
    return kid


def load_public_pem(pem: str) -> ec.EllipticCurvePublicKey:
    """Load a stored (already validated) key."""
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key
