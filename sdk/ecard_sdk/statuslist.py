"""The platform's signed status list, verified with ``cryptography`` alone.

An ES256 compact JWT (``typ: ecard-status-list+jwt``) whose claims carry one bit per
e-card index, zlib-compressed and base64url-encoded (the IETF Token Status List
layout: bit ``i`` is bit ``i % 8`` of byte ``i // 8``). A set bit means refuse
(suspended, revoked or unlinked). ``seq`` grows with every list; ``ttl`` says how
often to fetch a new one; ``exp`` ends its use.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ecard_sdk.codes import InvalidCode, UnknownKey, b64url_decode

TYP = "ecard-status-list+jwt"
ISSUER = "ecard"
MAX_SIZE = 2**34
_ECDSA = ec.ECDSA(hashes.SHA256())


class InvalidStatusList(InvalidCode):
    """The list does not verify or does not make sense."""


@dataclass(frozen=True, slots=True)
class StatusList:
    bits: bytes
    size: int
    sequence: int
    iat: int
    exp: int
    ttl: int

    def is_refused(self, index: int) -> bool:
        """Whether e-card ``index`` must be refused. An index beyond the list is an
        e-card issued after the list was built, hence in good standing at its iat."""
        if index >= self.size:
            return False
        return bool(self.bits[index >> 3] >> (index & 7) & 1)


def _int(claims: Mapping[str, Any], name: str) -> int:
    value = claims[name]
    if type(value) is not int:
        raise ValueError(f"{name} must be an integer")
    return value


def verify_status_list(token: str, keys: Mapping[str, ec.EllipticCurvePublicKey]
                       ) -> StatusList:
    """The list, if its signature verifies (time and sequence are the caller's)."""
    try:
        header_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        if header.get("alg") != "ES256" or header.get("typ") != TYP:
            raise ValueError("not a status list")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise ValueError("no kid")
        if kid not in keys:
            raise UnknownKey(kid)
        sig = b64url_decode(sig_b64)
        if len(sig) != 64:
            raise ValueError("bad signature length")
        keys[kid].verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                              int.from_bytes(sig[32:], "big")),
                         f"{header_b64}.{payload_b64}".encode("ascii"), _ECDSA)
        claims = json.loads(b64url_decode(payload_b64))
        return _decode(claims)
    except UnknownKey:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, InvalidSignature, zlib.error,
            UnicodeError) as exc:
        raise InvalidStatusList("the status list does not verify") from exc


def _decode(claims: Mapping[str, Any]) -> StatusList:
    if claims.get("iss") != ISSUER:
        raise ValueError("wrong issuer")
    size, seq, iat, exp, ttl = (_int(claims, n) for n in ("size", "seq", "iat", "exp", "ttl"))
    if not (0 <= size <= MAX_SIZE and seq >= 0 and 0 < ttl <= exp - iat):
        raise ValueError("claims out of range")
    body = claims["status_list"]
    if body.get("bits") != 1 or not isinstance(body.get("lst"), str):
        raise ValueError("status_list must be {'bits': 1, 'lst': str}")
    expected = (size + 7) // 8
    inflater = zlib.decompressobj()
    bits = inflater.decompress(b64url_decode(body["lst"]), max(expected, 1))
    if not inflater.eof and (inflater.decompress(inflater.unconsumed_tail, 1)
                             or not inflater.eof):
        raise ValueError("the bitstring is longer than the size")
    if len(bits) != expected or inflater.unused_data:
        raise ValueError("the bitstring does not match the size")
    return StatusList(bits=bits, size=size, sequence=seq, iat=iat, exp=exp, ttl=ttl)
