"""The signed revocation status list that offline terminals cache.

One bit per e-card index (the ``ecard_index`` carried in identity codes): 1 means
the e-card must not be accepted (revoked, or suspended because the physical card is
lost), 0 means it is in good standing. Bit ``i`` is bit ``i % 8`` (least significant
first) of byte ``i // 8``, compressed with zlib and base64url-encoded, the layout of
the IETF OAuth Token Status List (``"status_list": {"bits": 1, "lst": ...}``).
Revoked and suspended share the one bit: offline, both mean "refuse"; the online
check tells them apart.

The list is an ES256 JWT (``typ`` :data:`TYP`) signed with the platform's key, the
key that signs identity codes; it is fetched rarely, so PyJWT's speed is no concern.
Claims: ``iss``, ``iat``, ``exp`` (``iat`` + :data:`MAX_AGE_S`, 5 minutes), ``ttl``
(:data:`REFRESH_S`, 60 s: fetch a new list this often), ``seq`` (grows with every
list; a terminal refuses a list older than the newest it holds, so an attacker
cannot hand it a stale list from before a revocation), ``size`` (number of indexes).

Worst-case delay until an offline terminal refuses a lost card's e-card: a change
made just after list N was built appears in list N+1, built up to ``REFRESH_S``
later, while a terminal that could not reach the platform keeps using list N until
its ``exp``. The bound is therefore ``MAX_AGE_S`` = 300 s after list N's ``iat``,
plus the time to build and sign one list; a terminal that refreshes on schedule
sees the change within ``2 * REFRESH_S`` = 120 s.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec

from ecard.tokens.interfaces import InvalidToken
from ecard.tokens.qr import ExpiredToken, SigningKeySource

TYP = "ecard-status-list+jwt"
ISSUER = "ecard"
ALG = "ES256"
MAX_AGE_S = 300
REFRESH_S = 60
MAX_SIZE = 2**34  # 2 GiB of bits: far beyond one province's shard


class StatusIndexOutOfRange(LookupError):
    """The index is beyond the list: the e-card is newer than the list; fetch a fresh one."""


@dataclass(frozen=True, slots=True)
class StatusList:
    """A status list, decoded: ``bits`` holds ``ceil(size / 8)`` bytes."""

    bits: bytes
    size: int
    sequence: int
    iat: int
    exp: int
    refresh_s: int = REFRESH_S

    def is_revoked(self, index: int) -> bool:
        """Whether e-card ``index`` must be refused (revoked or suspended)."""
        if not 0 <= index < self.size:
            raise StatusIndexOutOfRange(f"index {index} is not in a list of {self.size}")
        return bool(self.bits[index >> 3] >> (index & 7) & 1)

    def age_s(self, t: float) -> float:
        """How old the list is at Unix time ``t`` (what the terminal reports)."""
        return t - self.iat

    def revoked_count(self) -> int:
        return int(np.unpackbits(np.frombuffer(self.bits, dtype=np.uint8)).sum())


def pack_bits(indexes: Iterable[int], size: int) -> bytes:
    """The bitstring of ``size`` bits with the given indexes set (duplicates allowed)."""
    if not 0 <= size <= MAX_SIZE:
        raise ValueError(f"size must be 0 to {MAX_SIZE}")
    if isinstance(indexes, np.ndarray):
        idx = indexes.astype(np.int64, copy=False).ravel()
    else:
        idx = np.fromiter(indexes, dtype=np.int64)
    buf = np.zeros((size + 7) // 8, dtype=np.uint8)
    if idx.size:
        if int(idx.min()) < 0 or int(idx.max()) >= size:
            raise ValueError(f"every index must be in [0, {size})")
        np.bitwise_or.at(buf, idx >> 3, np.left_shift(1, idx & 7).astype(np.uint8))
    return buf.tobytes()


def build_status_list(indexes: Iterable[int], *, size: int, sequence: int, t: int,
                      max_age_s: int = MAX_AGE_S, refresh_s: int = REFRESH_S) -> StatusList:
    """The list at Unix time ``t`` with ``indexes`` (revoked or suspended) set."""
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    if not 0 < refresh_s <= max_age_s:
        raise ValueError("refresh_s must be positive and at most max_age_s")
    return StatusList(bits=pack_bits(indexes, size), size=size, sequence=sequence, iat=t,
                      exp=t + max_age_s, refresh_s=refresh_s)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def status_list_claims(status_list: StatusList) -> dict[str, Any]:
    compressed = zlib.compress(status_list.bits, 9)
    return {
        "iss": ISSUER, "iat": status_list.iat, "exp": status_list.exp,
        "ttl": status_list.refresh_s, "seq": status_list.sequence, "size": status_list.size,
        "status_list": {"bits": 1, "lst": _b64url(compressed)},
    }


def sign_status_list(status_list: StatusList, private_key: ec.EllipticCurvePrivateKey,
                     kid: str) -> str:
    """The signed list (an ES256 JWT whose header names ``kid``)."""
    return jwt.encode(status_list_claims(status_list), private_key, algorithm=ALG,
                      headers={"kid": kid, "typ": TYP})


def issue_status_list(keys: SigningKeySource, status_list: StatusList) -> str:
    """Sign with the platform's active key (the key ring's loaded key object)."""
    kid, private_key = keys.active_signing_key()
    return sign_status_list(status_list, private_key, kid)


def verify_status_list_at_time(
    token: str, public_keys_by_kid: Mapping[str, ec.EllipticCurvePublicKey], t: float, *,
    min_sequence: int = 0, leeway_s: int = 0,
) -> StatusList:
    """Verify a signed list at Unix time ``t``.

    Raises :class:`InvalidToken` for a bad signature, key id, type or content, or a
    sequence below ``min_sequence`` (the newest the terminal already holds), and
    :class:`ExpiredToken` for a genuine list past its ``exp``.
    """
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("typ") != TYP or header.get("alg") != ALG or not isinstance(kid, str):
            raise InvalidToken
        claims: dict[str, Any] = jwt.decode(
            token, public_keys_by_kid[kid], algorithms=[ALG], issuer=ISSUER,
            options={"require": ["iss", "iat", "exp", "seq", "size", "ttl", "status_list"],
                     "verify_exp": False, "verify_iat": False, "verify_nbf": False})
        status_list = _decode_claims(claims)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError, binascii.Error,
            zlib.error) as exc:
        raise InvalidToken from exc
    if status_list.sequence < min_sequence or status_list.iat > t + leeway_s:
        raise InvalidToken
    if t >= status_list.exp + leeway_s:
        raise ExpiredToken(status_list.exp)
    return status_list


def verify_status_list(
    token: str, public_keys_by_kid: Mapping[str, ec.EllipticCurvePublicKey], *,
    now: datetime, min_sequence: int = 0, leeway_s: int = 0,
) -> StatusList:
    """:func:`verify_status_list_at_time` with the time from a ``Clock``'s ``now()``."""
    return verify_status_list_at_time(token, public_keys_by_kid, now.timestamp(),
                                      min_sequence=min_sequence, leeway_s=leeway_s)


def _decode_claims(claims: dict[str, Any]) -> StatusList:
    size, seq, iat, exp, ttl = (claims["size"], claims["seq"], claims["iat"], claims["exp"],
                                claims["ttl"])
    if not all(type(v) is int for v in (size, seq, iat, exp, ttl)):
        raise ValueError("integer claims expected")
    if not (0 <= size <= MAX_SIZE and seq >= 0 and 0 < ttl <= exp - iat):
        raise ValueError("claims out of range")
    body = claims["status_list"]
    if not isinstance(body, dict) or body.get("bits") != 1 or not isinstance(body.get("lst"),
                                                                              str):
        raise ValueError("status_list must be {'bits': 1, 'lst': str}")
    lst: str = body["lst"]
    compressed = base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4))
    expected = (size + 7) // 8
    inflater = zlib.decompressobj()
    # Bounded: never inflate more than the list's size allows (0 would mean no bound).
    bits = inflater.decompress(compressed, max(expected, 1))
    # The stream's end (its checksum) may still be pending: one more byte must not come.
    if not inflater.eof and (inflater.decompress(inflater.unconsumed_tail, 1)
                             or not inflater.eof):
        raise ValueError("the bitstring is longer than the size")
    if len(bits) != expected or inflater.unused_data:
        raise ValueError("the bitstring does not match the size")
    if size % 8 and bits[-1] >> (size % 8):
        raise ValueError("bits set beyond the size")
    return StatusList(bits=bits, size=size, sequence=seq, iat=iat, exp=exp, refresh_s=ttl)
