"""Identity QR codes: a fixed vector, round trips, expiry after the signature only,
tampering, malleability, foreign tokens, the JWKS path and the platform key ring."""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ecard.platform import Platform
from ecard.tokens.interfaces import InvalidToken
from ecard.tokens.qr import (
    SCHEME,
    ExpiredToken,
    IdentityClaims,
    issue_identity_code,
    public_keys_from_jwks,
    sign_identity_code,
    sign_identity_code_at_time,
    verify_identity_code,
    verify_identity_code_at_time,
)

# A fixed vector for other verifiers (the SDK, terminals): the key's public half as a
# JWK, one code it signed, and what the code says. ECDSA signing is randomised, so the
# vector is for verification; the key is derived from a fixed scalar for tests only.
VECTOR_SCALAR = int.from_bytes(hashlib.sha256(b"ecard test vector key 1").digest(), "big")
VECTOR_JWKS: dict[str, Any] = {"keys": [{
    "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "5c9WnlteFq2oHapx",
    "x": "GYjU_lst4OhlnWk0NTrv9bhkJtFOMXtwTsvmC3GELSs",
    "y": "Hk3hd8plIyRjjZ3jB5SNmzE651KJCsU1QS1iWPMXwSU"}]}
VECTOR_TOKEN = (
    "EC1.ARA1YzlXbmx0ZUZxMm9IYXB4AAAAAQAAAAUAAAAABfXhAglpVbkAPAABAgMEBQYHCAkKCw."
    "CYsJxiM_CydZpeU1tYk7AdyXSCDxteMAQSXMmblKZMdoYnkp8veaJH5Bw-tlPBVLOoprGhw0kU2mwQI6n_p-TQ")
VECTOR_CLAIMS = IdentityClaims(
    kid="5c9WnlteFq2oHapx", ecard_index=4_294_967_301, channel_no="0100000002",
    scenes=frozenset({"01", "04"}), iat=1_767_225_600, exp=1_767_225_660,
    nonce=bytes(range(12)))

KID = "test-key-1234567"
T = 1_767_225_600
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def keys(key: ec.EllipticCurvePrivateKey) -> dict[str, ec.EllipticCurvePublicKey]:
    return {KID: key.public_key()}


def _sign(key: ec.EllipticCurvePrivateKey, **over: Any) -> str:
    args: dict[str, Any] = {"ecard_index": 42, "channel_no": "1000000001", "t": T,
                            "scenes": ("01",)}
    args.update(over)
    return sign_identity_code_at_time(key, KID, **args)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign_raw(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """Sign any payload bytes (to show the verifier checks fields after the signature)."""
    signing_input = SCHEME + _b64(payload)
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    s = min(s, N - s)
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _payload(index: int = 1, channel: int = 1000000001, scenes: int = 1, iat: int = T,
             lifetime: int = 60, kid: str = KID) -> bytes:
    raw = kid.encode()
    return (bytes((1, len(raw))) + raw
            + struct.pack(">QQBIB12s", index, channel, scenes, iat, lifetime, b"n" * 12))


# -- the fixed vector -----------------------------------------------------------------
def test_vector_verifies_from_the_jwks() -> None:
    keys = public_keys_from_jwks(VECTOR_JWKS)
    assert verify_identity_code_at_time(VECTOR_TOKEN, keys, T + 30) == VECTOR_CLAIMS
    assert VECTOR_CLAIMS.jti == "AAECAwQFBgcICQoL"


def test_vector_key_matches_the_scalar() -> None:
    public = ec.derive_private_key(VECTOR_SCALAR, ec.SECP256R1()).public_key()
    assert public_keys_from_jwks(VECTOR_JWKS)["5c9WnlteFq2oHapx"] == public


# -- round trips ----------------------------------------------------------------------
def test_round_trip(key: ec.EllipticCurvePrivateKey,
                    keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = _sign(key, ecard_index=987_654_321, channel_no="0000000007", scenes=["02", "01"],
                  nonce=b"\x01" * 12)
    claims = verify_identity_code_at_time(token, keys, T + 10)
    assert claims == IdentityClaims(kid=KID, ecard_index=987_654_321, channel_no="0000000007",
                                    scenes=frozenset({"01", "02"}), iat=T, exp=T + 60,
                                    nonce=b"\x01" * 12)


def test_compact_and_url_safe(key: ec.EllipticCurvePrivateKey) -> None:
    token = _sign(key, ecard_index=2**64 - 1, scenes=["01", "02", "03", "04"])
    assert token.startswith("EC1.") and len(token) == 161 <= 250
    assert set(token) <= set(B64URL + ".")


def test_fresh_nonce_each_time(key: ec.EllipticCurvePrivateKey,
                               keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    a, b = _sign(key), _sign(key)
    ca, cb = (verify_identity_code_at_time(x, keys, T) for x in (a, b))
    assert ca.jti != cb.jti and len(ca.nonce) == 12


def test_no_scenes(key: ec.EllipticCurvePrivateKey,
                   keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    assert verify_identity_code_at_time(_sign(key, scenes=()), keys, T).scenes == frozenset()


def test_datetime_twins(key: ec.EllipticCurvePrivateKey,
                        keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    at = datetime.fromtimestamp(T, UTC)
    token = sign_identity_code(key, KID, ecard_index=5, channel_no="1000000001", now=at)
    later = datetime.fromtimestamp(T + 59.9, UTC)
    assert verify_identity_code(token, keys, now=later).iat == T
    with pytest.raises(ExpiredToken):
        verify_identity_code(token, keys, now=datetime.fromtimestamp(T + 60, UTC))


# -- time -----------------------------------------------------------------------------
def test_expiry_is_reported_after_the_signature(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = _sign(key)
    assert verify_identity_code_at_time(token, keys, T + 59).exp == T + 60
    with pytest.raises(ExpiredToken) as caught:
        verify_identity_code_at_time(token, keys, T + 60)
    assert caught.value.expired_at == T + 60
    assert isinstance(caught.value, InvalidToken)
    # A screenshot from yesterday: still "expired", the code is genuine.
    with pytest.raises(ExpiredToken):
        verify_identity_code_at_time(token, keys, T + 86_400)


def test_shorter_lifetime(key: ec.EllipticCurvePrivateKey,
                          keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = _sign(key, lifetime_s=15)
    assert verify_identity_code_at_time(token, keys, T + 14).exp == T + 15
    with pytest.raises(ExpiredToken):
        verify_identity_code_at_time(token, keys, T + 15)


def test_issued_in_the_future_and_leeway(key: ec.EllipticCurvePrivateKey,
                                         keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = _sign(key)
    with pytest.raises(InvalidToken) as caught:
        verify_identity_code_at_time(token, keys, T - 3)
    assert not isinstance(caught.value, ExpiredToken)
    assert verify_identity_code_at_time(token, keys, T - 3, leeway_s=5).iat == T
    assert verify_identity_code_at_time(token, keys, T + 62, leeway_s=5).iat == T
    with pytest.raises(ExpiredToken):
        verify_identity_code_at_time(token, keys, T + 65, leeway_s=5)


# -- refusals -------------------------------------------------------------------------
def test_every_single_character_change_is_refused_even_when_expired(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    """Past expiry, a tampered code must still read as invalid, never as expired."""
    token = _sign(key)
    for i in range(len(token)):
        for c in (B64URL[(B64URL.find(token[i]) + 1) % 64], ".", "="):
            if c == token[i]:
                continue
            tampered = token[:i] + c + token[i + 1:]
            for t in (T + 1, T + 600):
                with pytest.raises(InvalidToken) as caught:
                    verify_identity_code_at_time(tampered, keys, t)
                assert type(caught.value) is InvalidToken, (i, c)


def test_other_spellings_of_the_same_bytes_are_refused(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    """Only the canonical base64url text verifies: no '+' '/', padding, whitespace,
    non-ASCII, or a last character with stray low bits."""
    token = _sign(key)
    head, _, sig = token.rpartition(".")
    payload_text = head[4:]
    spellings = [
        token.replace("-", "+").replace("_", "/"), token + "=", token + "==",
        head + "." + sig[:40] + "\n" + sig[40:], head + ". " + sig, " " + token,
        token.replace("A", "\u0410", 1), head + "." + sig + "\x00",
        # 70 characters = 52 bytes + 4 stray bits in the last character.
        "EC1." + payload_text[:-1] + B64URL[B64URL.find(payload_text[-1]) | 1] + "." + sig,
        # 86 characters = 64 bytes + 4 stray bits.
        head + "." + sig[:-1] + B64URL[B64URL.find(sig[-1]) | 8],
    ]
    assert len(payload_text) % 4 == 2 and len(sig) % 4 == 2
    for text in spellings:
        if text == token:
            continue
        with pytest.raises(InvalidToken):
            verify_identity_code_at_time(text, keys, T)


def test_unknown_kid_and_other_key(key: ec.EllipticCurvePrivateKey) -> None:
    token = _sign(key)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    for keys in ({}, {"another": key.public_key()}, {KID: other}):
        with pytest.raises(InvalidToken):
            verify_identity_code_at_time(token, keys, T)


def test_high_s_twin_is_refused(key: ec.EllipticCurvePrivateKey,
                                keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = _sign(key)
    head, _, sig_text = token.rpartition(".")
    sig = base64.urlsafe_b64decode(sig_text + "==")
    r, s = sig[:32], int.from_bytes(sig[32:], "big")
    assert s <= N // 2
    twin = head + "." + _b64(r + (N - s).to_bytes(32, "big"))
    # The twin is a valid ECDSA signature of the same input ...
    key.public_key().verify(encode_dss_signature(int.from_bytes(r, "big"), N - s),
                            head.encode(), ec.ECDSA(hashes.SHA256()))
    # ... but only one text per code is accepted.
    with pytest.raises(InvalidToken):
        verify_identity_code_at_time(twin, keys, T)


@pytest.mark.parametrize("payload_args", [
    {"lifetime": 61}, {"lifetime": 0}, {"lifetime": 255}, {"scenes": 0x10},
    {"channel": 10**10}, {"kid": "someone-else-key"},
])
def test_signed_fields_out_of_range_are_refused(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey],
        payload_args: dict[str, Any]) -> None:
    token = _sign_raw(key, _payload(**payload_args))
    with pytest.raises(InvalidToken):
        verify_identity_code_at_time(token, keys, T)
    assert verify_identity_code_at_time(_sign_raw(key, _payload()), keys, T).ecard_index == 1


def test_wrong_version_and_trailing_bytes_are_refused(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    good = _payload()
    for payload in (b"\x02" + good[1:], good + b"\x00", good[:-1], b"", b"\x01"):
        with pytest.raises(InvalidToken):
            verify_identity_code_at_time(_sign_raw(key, payload), keys, T)


def test_a_jwt_of_the_same_key_is_not_an_identity_code(
        key: ec.EllipticCurvePrivateKey, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    token = jwt.encode({"iat": T, "exp": T + 60}, key, algorithm="ES256",
                       headers={"kid": KID})
    for text in (token, "EC1." + token.split(".", 1)[1]):
        with pytest.raises(InvalidToken):
            verify_identity_code_at_time(text, keys, T)


@pytest.mark.parametrize("text", [
    "", "EC1.", "EC1..", "EC2.AAAA.AAAA", "811234567890000000", "EC1." + "A" * 5000,
    "ec1.AAAA.AAAA", None, b"EC1.AAAA.AAAA", 12345,
])
def test_garbage_is_refused(text: Any, keys: dict[str, ec.EllipticCurvePublicKey]) -> None:
    with pytest.raises(InvalidToken) as caught:
        verify_identity_code_at_time(text, keys, T)
    assert type(caught.value) is InvalidToken


@pytest.mark.parametrize(("over", "message"), [
    ({"channel_no": "123"}, "10 digits"), ({"channel_no": "１０００００００００"}, "10 digits"),
    ({"lifetime_s": 61}, "lifetime"), ({"lifetime_s": 0}, "lifetime"),
    ({"ecard_index": -1}, "64 bits"), ({"ecard_index": 2**64}, "64 bits"),
    ({"scenes": ["05"]}, "scene"), ({"nonce": b"short"}, "nonce"), ({"t": -1}, "32 bits"),
])
def test_signing_arguments_are_checked(key: ec.EllipticCurvePrivateKey, over: dict[str, Any],
                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _sign(key, **over)


def test_kid_is_checked(key: ec.EllipticCurvePrivateKey) -> None:
    for kid in ("", "k" * 65, "ключ"):
        with pytest.raises(ValueError, match="kid"):
            sign_identity_code_at_time(key, kid, ecard_index=1, channel_no="1000000001", t=T)


def test_jwks_skips_other_key_types_and_refuses_malformed_p256() -> None:
    jwks = {"keys": [{"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"},
                     {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "", "y": ""},
                     *VECTOR_JWKS["keys"]]}
    assert list(public_keys_from_jwks(jwks)) == ["5c9WnlteFq2oHapx"]
    for y in ("!!", VECTOR_JWKS["keys"][0]["x"]):  # not base64url; a point off the curve
        broken = {"keys": [dict(VECTOR_JWKS["keys"][0], y=y)]}
        with pytest.raises(ValueError, match="malformed"):
            public_keys_from_jwks(broken)


# -- the platform's key ring ------------------------------------------------------------
def test_issued_with_the_key_ring_verifies_from_its_jwks(platform: Platform) -> None:
    ring = platform.keyring
    now = platform.clock.now()
    token = issue_identity_code(ring, ecard_index=77, channel_no="1000000001", now=now,
                                scenes=["04"])
    kid, _ = ring.active_signing_key()
    by_jwks = public_keys_from_jwks(ring.jwks())
    assert verify_identity_code(token, by_jwks, now=now).kid == kid
    assert verify_identity_code(token, ring.public_keys(), now=now).scenes == {"04"}
