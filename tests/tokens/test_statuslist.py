"""The signed revocation status list: bit layout (the IETF example), signing and
verification, expiry, rollback, hostile contents, the key ring, and a 1M-index list."""

from __future__ import annotations

import base64
import json
import random
import time
import zlib
from typing import Any

import jwt
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ecard.platform import Platform
from ecard.tokens.interfaces import InvalidToken
from ecard.tokens.qr import ExpiredToken
from ecard.tokens.statuslist import (
    MAX_AGE_S,
    REFRESH_S,
    TYP,
    StatusIndexOutOfRange,
    StatusList,
    build_status_list,
    issue_status_list,
    pack_bits,
    sign_status_list,
    status_list_claims,
    verify_status_list,
    verify_status_list_at_time,
)

KID = "status-key"
T = 1_767_225_600


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def keys(key: ec.EllipticCurvePrivateKey) -> dict[str, ec.EllipticCurvePublicKey]:
    return {KID: key.public_key()}


def _signed_claims(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any],
                   typ: str = TYP) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID, "typ": typ})


def _b64json(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _lst(bits: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(bits, 9)).rstrip(b"=").decode()


# -- layout ---------------------------------------------------------------------------
def test_ietf_status_list_example() -> None:
    """draft-ietf-oauth-status-list's 1-bit example: 16 statuses → b9 a3 → its lst."""
    statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    sl = build_status_list([i for i, v in enumerate(statuses) if v], size=16, sequence=1, t=T)
    assert sl.bits == bytes([0xB9, 0xA3])
    assert status_list_claims(sl)["status_list"] == {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}
    assert [int(sl.is_revoked(i)) for i in range(16)] == statuses


def test_pack_bits_matches_a_plain_reference() -> None:
    rng = random.Random(4)
    for size in (0, 1, 7, 8, 9, 63, 64, 65, 1000):
        idx = [rng.randrange(size) for _ in range(size // 3)] if size else []
        ref = bytearray((size + 7) // 8)
        for i in idx:
            ref[i // 8] |= 1 << (i % 8)
        assert pack_bits(idx, size) == bytes(ref)
        assert pack_bits(np.array(idx, dtype=np.int32), size) == bytes(ref)


def test_pack_bits_refuses_out_of_range() -> None:
    for bad in ([-1], [10], [0, 3, 10]):
        with pytest.raises(ValueError, match="index"):
            pack_bits(bad, 10)
    with pytest.raises(ValueError, match="size"):
        pack_bits([], -1)


def test_lookups_beyond_the_list() -> None:
    sl = build_status_list([3], size=10, sequence=1, t=T)
    assert sl.is_revoked(3) and not sl.is_revoked(9) and sl.revoked_count() == 1
    for index in (10, -1, 2**40):
        with pytest.raises(StatusIndexOutOfRange):
            sl.is_revoked(index)


def test_build_arguments() -> None:
    with pytest.raises(ValueError, match="sequence"):
        build_status_list([], size=1, sequence=-1, t=T)
    with pytest.raises(ValueError, match="refresh_s"):
        build_status_list([], size=1, sequence=1, t=T, refresh_s=600)


# -- signing and verifying ------------------------------------------------------------
def test_round_trip_and_claims(key: ec.EllipticCurvePrivateKey,
                               keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    sl = build_status_list([0, 5, 99], size=100, sequence=7, t=T)
    token = sign_status_list(sl, key, KID)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": KID, "typ": TYP}
    back = verify_status_list_at_time(token, keys, T + 1)
    assert back == sl
    assert (back.exp - back.iat, back.refresh_s) == (MAX_AGE_S, REFRESH_S) == (300, 60)
    assert back.age_s(T + 42) == 42


def test_expiry_after_the_signature(key: ec.EllipticCurvePrivateKey,
                                    keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = sign_status_list(build_status_list([], size=8, sequence=1, t=T), key, KID)
    assert verify_status_list_at_time(token, keys, T + MAX_AGE_S - 1).sequence == 1
    with pytest.raises(ExpiredToken) as caught:
        verify_status_list_at_time(token, keys, T + MAX_AGE_S)
    assert caught.value.expired_at == T + MAX_AGE_S
    other = {KID: ec.generate_private_key(ec.SECP256R1()).public_key()}
    with pytest.raises(InvalidToken) as refused:
        verify_status_list_at_time(token, other, T + MAX_AGE_S)
    assert type(refused.value) is InvalidToken
    with pytest.raises(InvalidToken):  # issued in the future: the terminal's clock is off
        verify_status_list_at_time(token, keys, T - 10)
    assert verify_status_list_at_time(token, keys, T - 10, leeway_s=10).iat == T


def test_older_sequence_is_refused(key: ec.EllipticCurvePrivateKey,
                                   keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    """A terminal holding list 8 is not handed list 7 (from before a revocation)."""
    old = sign_status_list(build_status_list([], size=8, sequence=7, t=T), key, KID)
    new = sign_status_list(build_status_list([2], size=8, sequence=8, t=T + 60), key, KID)
    held = verify_status_list_at_time(new, keys, T + 61)
    with pytest.raises(InvalidToken):
        verify_status_list_at_time(old, keys, T + 61, min_sequence=held.sequence)
    assert verify_status_list_at_time(new, keys, T + 61, min_sequence=8).is_revoked(2)


def test_tampered_and_foreign_tokens(key: ec.EllipticCurvePrivateKey,
                                     keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    sl = build_status_list([1], size=16, sequence=1, t=T)
    token = sign_status_list(sl, key, KID)
    head, _body, sig = token.split(".")
    claims = status_list_claims(sl)
    claims["status_list"]["lst"] = _lst(bytes(2))  # "un-revoke" index 1
    forged_body = jwt.encode(claims, key, algorithm="ES256").split(".")[1]
    wrong_typ = _signed_claims(key, status_list_claims(sl), typ="ecard-credential+jwt")
    for bad in (head + "." + forged_body + "." + sig, wrong_typ, token[:-2], "", "a.b.c",
                token.replace(head, _b64json({"alg": "HS256", "kid": KID, "typ": TYP})),
                token.replace(head, _b64json({"alg": "none", "kid": KID, "typ": TYP}))):
        with pytest.raises(InvalidToken):
            verify_status_list_at_time(bad, keys, T)


@pytest.mark.parametrize("change", [
    {"size": 17}, {"size": 7}, {"size": 8}, {"size": -1}, {"size": "16"}, {"seq": -1},
    {"ttl": 0}, {"ttl": 301}, {"iat": 1.5},
    {"status_list": {"bits": 2, "lst": _lst(b"\x02\x00")}},
    {"status_list": {"bits": 1}}, {"status_list": "x"},
    {"status_list": {"bits": 1, "lst": _lst(b"\x02\x00\x00")}},  # longer than size
    {"status_list": {"bits": 1, "lst": _lst(b"\x02")}},  # shorter than size
    {"status_list": {"bits": 1, "lst": "not zlib"}},
    {"status_list": {"bits": 1, "lst": _lst(b"\x02\x00") + "AAAA"}},  # trailing bytes
])
def test_signed_but_inconsistent_contents_are_refused(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey],
        change: dict[str, Any]) -> None:
    claims = status_list_claims(build_status_list([1], size=16, sequence=1, t=T))
    claims.update(change)
    with pytest.raises(InvalidToken):
        verify_status_list_at_time(_signed_claims(key, claims), keys, T + 1)


def test_padding_bits_beyond_the_size_are_refused(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    claims = status_list_claims(build_status_list([1], size=12, sequence=1, t=T))
    claims["status_list"]["lst"] = _lst(bytes([0x02, 0x10]))  # bit 12 of a 12-bit list
    with pytest.raises(InvalidToken):
        verify_status_list_at_time(_signed_claims(key, claims), keys, T + 1)


def test_inflating_is_bounded(key: ec.EllipticCurvePrivateKey,
                              keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    """64 MiB of zeros compress to 64 KiB; a 16-bit list never inflates them."""
    claims = status_list_claims(build_status_list([], size=16, sequence=1, t=T))
    claims["status_list"]["lst"] = _lst(bytes(64 << 20))
    with pytest.raises(InvalidToken):
        verify_status_list_at_time(_signed_claims(key, claims), keys, T + 1)


# -- the platform's key ring ------------------------------------------------------------
def test_issued_with_the_key_ring(platform: Platform) -> None:
    now = platform.clock.now()
    t = int(now.timestamp())
    token = issue_status_list(platform.keyring, build_status_list([3], size=64, sequence=1,
                                                                  t=t))
    sl = verify_status_list(token, platform.keyring.public_keys(), now=now)
    assert sl.is_revoked(3) and not sl.is_revoked(4)


# -- size and speed at one million indexes -------------------------------------------
def test_one_million_indexes(key: ec.EllipticCurvePrivateKey,
                             keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    size = 1_000_000
    revoked = np.random.default_rng(1).choice(size, size // 100, replace=False)
    started = time.perf_counter()
    sl = build_status_list(revoked, size=size, sequence=1, t=T)
    token = sign_status_list(sl, key, KID)
    build_s = time.perf_counter() - started
    assert len(sl.bits) == 125_000
    # 1 % revoked at random: about 19 KB compressed, 25 KB signed (base64url + JWT).
    assert len(token) < 40_000, len(token)
    assert build_s < 2.0, build_s  # about 0.1 s here; loose for a shared machine
    back = verify_status_list_at_time(token, keys, T + 1)
    assert back.revoked_count() == size // 100
    assert all(back.is_revoked(int(i)) for i in revoked[:2000])
    clean = np.setdiff1d(np.arange(size), revoked)[:2000]
    assert not any(back.is_revoked(int(i)) for i in clean)


def test_one_million_all_revoked_compresses(key: ec.EllipticCurvePrivateKey) -> None:
    sl = build_status_list(range(1_000_000), size=1_000_000, sequence=1, t=T)
    assert sl.revoked_count() == 1_000_000
    assert len(sign_status_list(sl, key, KID)) < 2_000


def test_status_list_type() -> None:
    sl = StatusList(bits=b"\x01", size=1, sequence=0, iat=T, exp=T + 300)
    assert sl.is_revoked(0) and sl.refresh_s == REFRESH_S
