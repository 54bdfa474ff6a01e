"""PaymentCodeGenerator makes exactly what the platform's verifier accepts: the JSON
vectors (RFC 6238's SHA-256 seed), and round trips through ecard.payments.codes."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from ecard_sdk import PaymentCodeGenerator

from ecard.payments.codes import (
    STEP_S,
    generate_payment_code_at_time,
    verify_payment_code_at_time,
)
from ecard.tokens.interfaces import InvalidToken

VECTORS = json.loads((Path(__file__).parents[1] / "payments" / "vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: str(v["time"]))
def test_vectors(vector: dict[str, object]) -> None:
    secret = bytes.fromhex(str(vector["secret_hex"]))
    gen = PaymentCodeGenerator(secret, int(str(vector["device_slot"])))
    assert gen.code_at_time(float(str(vector["time"]))) == vector["code"]
    # the same from the base64 text the enrolment answer carries
    b64 = PaymentCodeGenerator(base64.b64encode(secret).decode(), int(str(vector["device_slot"])))
    assert b64.code_at_time(float(str(vector["time"]))) == vector["code"]


def test_platform_accepts_what_the_device_makes() -> None:
    rng = secrets.SystemRandom()
    for _ in range(200):
        secret = secrets.token_bytes(32)
        slot = rng.randrange(10**9)
        t = rng.uniform(0, 4_000_000_000)
        code = PaymentCodeGenerator(secret, slot).code_at_time(t)
        assert code == generate_payment_code_at_time(secret, slot, t)
        match = verify_payment_code_at_time(code, {slot: secret}.get, t)
        assert (match.device_slot, match.step) == (slot, int(t // STEP_S))
        # one step either side is accepted, two are not
        verify_payment_code_at_time(code, {slot: secret}.get, t + STEP_S)
        with pytest.raises(InvalidToken):
            verify_payment_code_at_time(code, {slot: secret}.get, t + 2 * STEP_S)
        with pytest.raises(InvalidToken):  # another device's secret
            verify_payment_code_at_time(code, {slot: secrets.token_bytes(32)}.get, t)


def test_now_uses_the_injected_clock_and_refresh() -> None:
    gen = PaymentCodeGenerator(b"k" * 32, 42, clock=lambda: 1_767_225_615.0)
    assert gen.now() == gen.code_at_time(1_767_225_615) and gen.now()[:11] == "81000000042"
    assert gen.refresh_in() == 15.0
    assert gen.code_at_time(1_767_225_600) == gen.code_at_time(1_767_225_629.9)
    assert gen.code_at_time(1_767_225_600) != gen.code_at_time(1_767_225_630)


def test_from_enrolment_checks_the_announced_format() -> None:
    enrolment = {"device_secret": base64.b64encode(b"s" * 32).decode(), "device_slot": 7,
                 "code_format": {"digits": 18, "prefix": "81", "slot_digits": 9,
                                 "mac_digits": 7, "step_s": 30,
                                 "algorithm": "TOTP-HMAC-SHA256", "window_steps": 1}}
    assert PaymentCodeGenerator.from_enrolment(enrolment).device_slot == 7
    for change in ({"step_s": 60}, {"digits": 20}, {"algorithm": "TOTP-HMAC-SHA1"}):
        odd = {**enrolment, "code_format": {**enrolment["code_format"], **change}}
        with pytest.raises(ValueError):
            PaymentCodeGenerator.from_enrolment(odd)


@pytest.mark.parametrize(("secret", "slot"), [
    (b"short", 1), ("not base64!", 1), (b"s" * 32, -1), (b"s" * 32, 10**9), (b"s" * 32, True)])
def test_bad_inputs_are_refused(secret: bytes | str, slot: int) -> None:
    with pytest.raises(ValueError):
        PaymentCodeGenerator(secret, slot)


def test_repr_hides_the_secret() -> None:
    gen = PaymentCodeGenerator(b"\x01" * 32, 5)
    assert repr(gen) == "PaymentCodeGenerator(device_slot=5)"
    with pytest.raises(ValueError):
        gen.code_at_time(-1)
