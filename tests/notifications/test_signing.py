"""The callback signature: what a channel accepts and what it refuses."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ecard.notifications.interfaces import InvalidCallback
from ecard.notifications.signing import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    MemoryReplayGuard,
    SignedCallback,
    body_hash,
    sign_callback,
    verify_callback_signature,
)
from ecard.platform import Platform
from ecard.tokens.services import public_jwk
from tests.notifications.conftest import CH1, CH2, enqueue, notes

pytestmark = pytest.mark.usefixtures("channels")


def _signed(platform: Platform, attempt: int = 1) -> tuple[SignedCallback, int]:
    nid = enqueue(platform, CH1, "S0001", "issued", level=1)
    note = notes(platform)[nid]
    now = int(platform.clock.now().timestamp())
    return sign_callback(platform.keyring, note, attempt, now), now


def _verify(platform: Platform, body: bytes, sig: str, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {"jwks": platform.keyring.jwks(), "channel_no": CH1,
                               "now_s": int(platform.clock.now().timestamp())}
    args.update(kw)
    return verify_callback_signature(body, sig, **args)  # type: ignore[arg-type]


def test_good_signature_verifies_and_returns_the_body(platform: Platform) -> None:
    signed, now = _signed(platform, attempt=3)
    doc = _verify(platform, signed.body, signed.headers[SIGNATURE_HEADER],
                  replay_guard=MemoryReplayGuard())
    assert set(doc) == {"id", "event", "sign_no", "channel_no", "occurred_at", "data"}
    assert doc["event"] == "issued" and doc["sign_no"] == "S0001" and doc["channel_no"] == CH1
    assert doc["data"] == {"sign_no": "S0001", "status": "active", "level": 1}
    assert signed.headers[EVENT_HEADER] == "issued"
    assert signed.headers[ATTEMPT_HEADER] == "3"
    import jwt
    claims = jwt.decode(signed.headers[SIGNATURE_HEADER], options={"verify_signature": False})
    assert claims == {"iss": "ecard", "aud": CH1, "iat": now, "exp": now + 300,
                      "jti": f"{doc['id']}.3", "bh": body_hash(signed.body)}
    header = jwt.get_unverified_header(signed.headers[SIGNATURE_HEADER])
    assert header["typ"] == "ecard-callback+jwt" and header["alg"] == "ES256"
    assert header["kid"] in {k["kid"] for k in platform.keyring.jwks()["keys"]}


def test_body_is_the_same_bytes_on_every_attempt(platform: Platform) -> None:
    nid = enqueue(platform, CH1, "S0001")
    note = notes(platform)[nid]
    a = sign_callback(platform.keyring, note, 1, 1_700_000_000)
    b = sign_callback(platform.keyring, note, 2, 1_700_000_100)
    assert a.body == b.body
    assert a.headers[SIGNATURE_HEADER] != b.headers[SIGNATURE_HEADER]


@pytest.mark.parametrize("tamper", [
    lambda body: body.replace(b'"active"', b'"revoked"'),
    lambda body: body + b" ",
    lambda body: json.dumps(json.loads(body), sort_keys=False, indent=1).encode(),
])
def test_tampered_body_is_refused(platform: Platform, tamper: object) -> None:
    signed, _ = _signed(platform)
    body = tamper(signed.body)  # type: ignore[operator]
    assert body != signed.body
    with pytest.raises(InvalidCallback):
        _verify(platform, body, signed.headers[SIGNATURE_HEADER])


def test_wrong_audience_is_refused(platform: Platform) -> None:
    signed, _ = _signed(platform)
    with pytest.raises(InvalidCallback):
        _verify(platform, signed.body, signed.headers[SIGNATURE_HEADER], channel_no=CH2)


def test_expired_and_future_tokens_are_refused(platform: Platform) -> None:
    signed, now = _signed(platform)
    sig = signed.headers[SIGNATURE_HEADER]
    _verify(platform, signed.body, sig, now_s=now + 299)
    for when in (now + 300, now + 3600, now - 301):
        with pytest.raises(InvalidCallback):
            _verify(platform, signed.body, sig, now_s=when)


def test_replayed_callback_is_refused(platform: Platform) -> None:
    signed, _ = _signed(platform)
    guard = MemoryReplayGuard()
    _verify(platform, signed.body, signed.headers[SIGNATURE_HEADER], replay_guard=guard)
    with pytest.raises(InvalidCallback):
        _verify(platform, signed.body, signed.headers[SIGNATURE_HEADER], replay_guard=guard)


def test_other_keys_and_garbage_are_refused(platform: Platform) -> None:
    signed, _ = _signed(platform)
    sig = signed.headers[SIGNATURE_HEADER]
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    kid = platform.keyring.jwks()["keys"][0]["kid"]
    with pytest.raises(InvalidCallback):  # a JWKS whose key under that kid is another
        _verify(platform, signed.body, sig, jwks={"keys": [public_jwk(stranger, kid)]})
    with pytest.raises(InvalidCallback):
        _verify(platform, signed.body, sig, jwks={"keys": []})
    for garbage in ("", "a.b.c", sig[:-4] + "AAAA", sig.replace(".", "..", 1)):
        with pytest.raises(InvalidCallback):
            _verify(platform, signed.body, garbage)
    # a token of another purpose signed with the platform key is not a callback
    other = platform.keyring.sign({"iss": "ecard", "aud": CH1}, typ="ecard-credential+jwt")
    with pytest.raises(InvalidCallback):
        _verify(platform, signed.body, other)
