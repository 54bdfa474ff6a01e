"""The identity QR code (亮码): a compact platform-signed token a terminal verifies offline.

Text form (161 characters with the platform's 16-character key ids)::

    EC1.<payload, base64url>.<signature, base64url>

* ``EC1.`` tells scanners an identity code from a payment code (18 digits) and
  versions the text form. It is part of the signed input, which is the ASCII text
  ``EC1.<payload>``: no JWS signing input (``<header>.<payload>``) can begin with
  ``EC1.``, since a header starting so would start with a control byte (0x10–0x13),
  which JSON cannot, so a JWT signature of the same key never passes as a code.
* The payload is 52 bytes of big-endian binary (with a 16-character kid)::

      version u8 (=1) | kid length u8 | kid ASCII | e-card index u64 |
      channel number u64 | scenes u8 (bit n-1 = scene "0n") | iat u32 |
      lifetime u8 (1..60 s; exp = iat + lifetime) | nonce 12 bytes

  A lifetime byte instead of ``exp`` makes "at most 60 s" a property of the format.
  The nonce (96 random bits) is the ``jti`` of the one-time online redemption.
* The signature is ES256 as raw ``r || s`` (64 bytes, as in JWS), with ``s`` in its
  low half: the signer normalises it and the verifier refuses the high twin, so each
  signed payload has exactly one valid text (ECDSA signatures are otherwise malleable;
  redemption is keyed by the nonce anyway).
* In a QR symbol (level M) the text takes byte mode, version 9 (53 × 53 modules).
  Upper-case base32 would allow alphanumeric mode: 192 characters, version 8
  (49 × 49). The JWS-like base64url text was kept: tools and SDKs decode it already,
  and four modules per side do not change what a phone screen can show.

Verification is ``cryptography``'s ECDSA verify plus a few microseconds of parsing:
0.86–0.88 of the raw verify rate here (``tests/bench/test_qr.py``), where PyJWT's
decode of the same claims reaches about 0.5 (DESIGN). Every failure raises
the one opaque :class:`InvalidToken`. Only a code whose signature verifies may be
reported as :class:`ExpiredToken`: what that reveals (a genuine platform code is
old) anyone can read from its unencrypted ``iat``, so it is no oracle, and it lets
the counter say "this code has expired, refresh it" to the holder who shows a
screenshot, the commonest complaint about the real codes.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ecard.tokens.interfaces import InvalidToken

SCHEME = "EC1."
_SCHEME_BYTES = SCHEME.encode("ascii")
VERSION = 1
MAX_LIFETIME_S = 60
NONCE_BYTES = 12
MAX_KID_CHARS = 64
MAX_TOKEN_CHARS = 4 + 4 * -(-(2 + MAX_KID_CHARS + 34) // 3) + 1 + 86

SCENES: dict[str, str] = {
    "01": "query",
    "02": "payment",
    "03": "other",
    "04": "cross-region medical",
}

_TAIL = struct.Struct(">QQBIB12s")  # index, channel, scenes, iat, lifetime, nonce
_SCENE_BITS = {code: 1 << (int(code) - 1) for code in SCENES}
_ALL_SCENE_BITS = sum(_SCENE_BITS.values())
_ECDSA = ec.ECDSA(hashes.SHA256())
# Order of the P-256 group: signatures keep s <= n/2.
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_N = _N // 2


class ExpiredToken(InvalidToken):
    """A genuine platform code (its signature verified) whose lifetime is over.

    Raised only after the signature check, so that it reveals nothing a forger could
    use; ``expired_at`` (Unix seconds) lets the counter tell a stale screenshot apart.
    """

    def __init__(self, expired_at: int) -> None:
        super().__init__("the code has expired; ask the holder to refresh it")
        self.expired_at = expired_at


class SigningKeySource(Protocol):
    """What issuing needs from the platform's key ring (:class:`KeyRing` fits)."""

    def active_signing_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]: ...


class IdentityClaims(NamedTuple):
    """What a verified identity code says (a named tuple: cheap to build per scan)."""

    kid: str
    ecard_index: int
    channel_no: str
    scenes: frozenset[str]
    iat: int
    exp: int
    nonce: bytes

    @property
    def jti(self) -> str:
        """The one-time redemption key (the nonce, base64url)."""
        return _b64url(self.nonce)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# Decoding swaps "-_" with "+/" so that the standard alphabet's "+/" become invalid;
# strict a2b then refuses every character outside base64url, padding and whitespace.
_B64URL_TO_STD = bytes.maketrans(b"-_+/", b"+/-_")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# A last character may only carry bits that are data: for 2 or 3 characters after the
# last full group, its low 4 or 2 bits must be zero.
_CANONICAL_LAST = {2: frozenset(_ALPHABET[::16]), 3: frozenset(_ALPHABET[::4])}
_PADDING = (b"", b"", b"==", b"=")


def _b64url_decode_strict(raw: bytes) -> bytes:
    """Decode base64url without padding, refusing every text but the canonical one
    (stray characters, ``+``/``/``, padding, non-zero trailing bits)."""
    rem = len(raw) % 4
    if rem == 1 or (rem and raw[-1] not in _CANONICAL_LAST[rem]):
        raise ValueError("non-canonical base64url")
    return binascii.a2b_base64(raw.translate(_B64URL_TO_STD) + _PADDING[rem], strict_mode=True)


def scene_bits(scenes: Iterable[str]) -> int:
    bits = 0
    for code in scenes:
        if code not in _SCENE_BITS:
            raise ValueError(f"unknown scene code {code!r}; expected one of {sorted(SCENES)}")
        bits |= _SCENE_BITS[code]
    return bits


_SCENE_SETS = tuple(frozenset(code for code, bit in _SCENE_BITS.items() if bits & bit)
                    for bits in range(_ALL_SCENE_BITS + 1))


# -- issuing --------------------------------------------------------------------------
def sign_identity_code_at_time(
    private_key: ec.EllipticCurvePrivateKey, kid: str, *, ecard_index: int, channel_no: str,
    t: int, scenes: Iterable[str] = (), lifetime_s: int = MAX_LIFETIME_S,
    nonce: bytes | None = None,
) -> str:
    """Sign an identity code issued at Unix time ``t`` (whole seconds).

    ``nonce`` defaults to 12 fresh random bytes; tests pass their own.
    Raises ``ValueError`` for arguments the format cannot carry.
    """
    if not (kid.isascii() and 0 < len(kid) <= MAX_KID_CHARS):
        raise ValueError(f"kid must be 1 to {MAX_KID_CHARS} ASCII characters")
    if not (len(channel_no) == 10 and channel_no.isascii() and channel_no.isdigit()):
        raise ValueError("channel_no must be 10 digits")
    if not 0 <= ecard_index < 2**64:
        raise ValueError("ecard_index must fit in 64 bits")
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"lifetime_s must be 1 to {MAX_LIFETIME_S} seconds")
    if not 0 <= t < 2**32:
        raise ValueError("t must be a Unix time in seconds that fits in 32 bits")
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    kid_raw = kid.encode("ascii")
    payload = (bytes((VERSION, len(kid_raw))) + kid_raw
               + _TAIL.pack(ecard_index, int(channel_no), scene_bits(scenes), t, lifetime_s,
                            nonce))
    signing_input = SCHEME + _b64url(payload)
    r, s = decode_dss_signature(private_key.sign(signing_input.encode("ascii"), _ECDSA))
    if s > _HALF_N:
        s = _N - s
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def sign_identity_code(
    private_key: ec.EllipticCurvePrivateKey, kid: str, *, ecard_index: int, channel_no: str,
    now: datetime, scenes: Iterable[str] = (), lifetime_s: int = MAX_LIFETIME_S,
    nonce: bytes | None = None,
) -> str:
    """:func:`sign_identity_code_at_time` with the time from a ``Clock``'s ``now()``."""
    return sign_identity_code_at_time(
        private_key, kid, ecard_index=ecard_index, channel_no=channel_no,
        t=int(now.timestamp()), scenes=scenes, lifetime_s=lifetime_s, nonce=nonce)


def issue_identity_code(
    keys: SigningKeySource, *, ecard_index: int, channel_no: str, now: datetime,
    scenes: Iterable[str] = (), lifetime_s: int = MAX_LIFETIME_S,
) -> str:
    """Sign with the platform's active key (the key ring's loaded key object)."""
    kid, private_key = keys.active_signing_key()
    return sign_identity_code(private_key, kid, ecard_index=ecard_index,
                              channel_no=channel_no, now=now, scenes=scenes,
                              lifetime_s=lifetime_s)


# -- verifying ------------------------------------------------------------------------
def verify_identity_code_at_time(
    token: str, public_keys_by_kid: Mapping[str, ec.EllipticCurvePublicKey], t: float, *,
    leeway_s: int = 0,
) -> IdentityClaims:
    """Verify ``token`` at Unix time ``t``; the terminal's clock error goes in ``leeway_s``.

    Raises :class:`InvalidToken` for anything wrong with the text, the key id, the
    signature or the fields, and :class:`ExpiredToken` when the signature verifies
    but ``t >= exp + leeway_s``. A code issued after ``t + leeway_s`` (a clock
    problem) is an :class:`InvalidToken`.
    """
    try:
        claims = _verify(token, public_keys_by_kid)
    except (ValueError, TypeError, KeyError, IndexError, struct.error, binascii.Error,
            InvalidSignature, UnicodeError) as exc:
        raise InvalidToken from exc
    if claims.iat > t + leeway_s:
        raise InvalidToken
    if t >= claims.exp + leeway_s:
        raise ExpiredToken(claims.exp)
    return claims


def verify_identity_code(
    token: str, public_keys_by_kid: Mapping[str, ec.EllipticCurvePublicKey], *,
    now: datetime, leeway_s: int = 0,
) -> IdentityClaims:
    """:func:`verify_identity_code_at_time` with the time from a ``Clock``'s ``now()``."""
    return verify_identity_code_at_time(token, public_keys_by_kid, now.timestamp(),
                                        leeway_s=leeway_s)


def _verify(token: str, public_keys_by_kid: Mapping[str, ec.EllipticCurvePublicKey]
            ) -> IdentityClaims:
    # The hot path of an offline terminal: bytes throughout, no work before the
    # signature that the signature check does not need.
    if not isinstance(token, str):
        raise TypeError("an identity code is text")
    raw = token.encode("ascii")
    if raw[:4] != _SCHEME_BYTES or len(raw) > MAX_TOKEN_CHARS:
        raise ValueError("not an identity code")
    signing_input, _, sig_text = raw.rpartition(b".")
    if len(sig_text) != 86:
        raise ValueError("malformed")
    payload = _b64url_decode_strict(signing_input[4:])
    if payload[0] != VERSION:
        raise ValueError("unknown version")
    kid_len = payload[1]
    if len(payload) != 2 + kid_len + _TAIL.size:
        raise ValueError("bad length")
    kid = payload[2:2 + kid_len].decode("ascii")
    public_key = public_keys_by_kid[kid]
    sig = _b64url_decode_strict(sig_text)
    s = int.from_bytes(sig[32:], "big")
    if s > _HALF_N:
        raise ValueError("high-s signature")
    public_key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), s), signing_input,
                      _ECDSA)
    # The signature holds: from here on the fields are the platform's.
    index, channel, scenes, iat, lifetime, nonce = _TAIL.unpack_from(payload, 2 + kid_len)
    if not 0 < lifetime <= MAX_LIFETIME_S or scenes > _ALL_SCENE_BITS or channel >= 10**10:
        raise ValueError("field out of range")
    return IdentityClaims(kid, index, f"{channel:010d}", _SCENE_SETS[scenes], iat,
                          iat + lifetime, nonce)


def public_keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """Key objects by kid from a JWKS (what a terminal caches); build them once.

    Keys other than EC P-256 are skipped; a malformed P-256 key raises ``ValueError``.
    """
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "kid" not in jwk:
            continue
        try:
            x = int.from_bytes(_b64url_decode_strict(jwk["x"].encode("ascii")), "big")
            y = int.from_bytes(_b64url_decode_strict(jwk["y"].encode("ascii")), "big")
            keys[str(jwk["kid"])] = ec.EllipticCurvePublicNumbers(
                x, y, ec.SECP256R1()).public_key()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # or off the curve
            raise ValueError(f"malformed JWK {jwk.get('kid')!r}") from exc
    return keys
