"""Payment codes: the vectors, the ±1 step window, tampering, wrong devices, shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ecard.payments.codes import (
    CODE_DIGITS,
    PREFIX,
    STEP_S,
    PaymentCodeMatch,
    generate_payment_code,
    generate_payment_code_at_time,
    hotp_sha256,
    is_payment_code,
    new_device_secret,
    verify_payment_code,
    verify_payment_code_at_time,
)
from ecard.tokens.interfaces import InvalidToken

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))["vectors"]
SECRET_A = bytes.fromhex("00" * 31 + "01")
SECRET_B = bytes.fromhex("00" * 31 + "02")
SLOT_A, SLOT_B = 123_456_789, 7
T = 1_767_225_600  # 2026-01-01 00:00:00 UTC, the first second of a step


def _lookup(secrets: dict[int, bytes]) -> Any:
    return secrets.get


DEVICES = _lookup({SLOT_A: SECRET_A, SLOT_B: SECRET_B})


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['device_slot']}@{v['time']}")
def test_vectors(vector: dict[str, Any]) -> None:
    secret = bytes.fromhex(vector["secret_hex"])
    code = generate_payment_code_at_time(secret, vector["device_slot"], vector["time"])
    assert code == vector["code"]
    assert verify_payment_code_at_time(code, _lookup({vector["device_slot"]: secret}),
                                       vector["time"]) == (vector["device_slot"], vector["step"])


@pytest.mark.parametrize("vector", [v for v in VECTORS if "rfc6238_sha256_8_digits" in v],
                         ids=lambda v: str(v["time"]))
def test_mac_is_rfc6238_totp_sha256(vector: dict[str, Any]) -> None:
    """RFC 6238 Appendix B (SHA-256 seed): our 7 digits are the end of its 8."""
    secret = bytes.fromhex(vector["secret_hex"])
    rfc = vector["rfc6238_sha256_8_digits"]
    assert hotp_sha256(secret, vector["time"] // 30, 8) == rfc
    assert vector["code"][-7:] == rfc[-7:]


def test_layout() -> None:
    code = generate_payment_code_at_time(SECRET_A, SLOT_B, T)
    assert len(code) == CODE_DIGITS == 18 and code.isdigit()
    assert code.startswith(PREFIX) and code[2:11] == "000000007"


@pytest.mark.parametrize("offset", [-STEP_S, -1, 0, STEP_S - 1, STEP_S, 2 * STEP_S - 1])
def test_accepted_within_one_step(offset: int) -> None:
    """Made at T (step s): accepted from 30(s-1) to 30(s+2) - 1 in server time."""
    code = generate_payment_code_at_time(SECRET_A, SLOT_A, T)
    match = verify_payment_code_at_time(code, DEVICES, T + offset)
    assert match == PaymentCodeMatch(SLOT_A, T // STEP_S)
    assert match.device_slot == SLOT_A and match.step == T // STEP_S


@pytest.mark.parametrize("offset", [-2 * STEP_S, -STEP_S - 1, 2 * STEP_S, 3 * STEP_S,
                                    -10 * STEP_S, 3600])
def test_refused_two_steps_away(offset: int) -> None:
    code = generate_payment_code_at_time(SECRET_A, SLOT_A, T)
    with pytest.raises(InvalidToken):
        verify_payment_code_at_time(code, DEVICES, T + offset)


def test_life_after_creation_is_30_to_60_seconds() -> None:
    """The module docstring's claim, second by second over one step (clocks agree)."""
    for made in range(T, T + STEP_S):
        code = generate_payment_code_at_time(SECRET_A, SLOT_A, made)
        accepted = [t for t in range(made - 2 * STEP_S, made + 4 * STEP_S) if _accepts(code, t)]
        assert accepted == list(range(T - STEP_S, T + 2 * STEP_S))
        life = accepted[-1] + 1 - made
        assert life == T + 2 * STEP_S - made and 30 < life <= 60


def _accepts(code: str, t: int) -> bool:
    try:
        verify_payment_code_at_time(code, DEVICES, t)
    except InvalidToken:
        return False
    return True


def test_every_single_digit_change_is_refused() -> None:
    code = generate_payment_code_at_time(SECRET_A, SLOT_A, T)
    for i in range(len(code)):
        for digit in "0123456789":
            if digit == code[i]:
                continue
            tampered = code[:i] + digit + code[i + 1:]
            with pytest.raises(InvalidToken):
                verify_payment_code_at_time(tampered, DEVICES, T)


def test_wrong_device_is_refused() -> None:
    # Device A's MAC under device B's slot: the server checks it with B's secret.
    code_a = generate_payment_code_at_time(SECRET_A, SLOT_A, T)
    moved = PREFIX + f"{SLOT_B:09d}" + code_a[11:]
    with pytest.raises(InvalidToken):
        verify_payment_code_at_time(moved, DEVICES, T)
    # A device that made a code with a secret the server does not hold for its slot
    # (an old secret after re-enrolment, a cloned app with a guessed secret).
    stale = generate_payment_code_at_time(SECRET_B, SLOT_A, T)
    with pytest.raises(InvalidToken):
        verify_payment_code_at_time(stale, DEVICES, T)


def test_unknown_slot_still_runs_the_comparisons() -> None:
    calls: list[int] = []

    def lookup(slot: int) -> bytes | None:
        calls.append(slot)
        return None

    code = generate_payment_code_at_time(SECRET_A, 555, T)
    with pytest.raises(InvalidToken):
        verify_payment_code_at_time(code, lookup, T)
    assert calls == [555]


@pytest.mark.parametrize("text", [
    "", "81", "8112345678900000000", "81123456789000000", "711234567890000000",
    "81123456789000000a", " 811234567890000000", "８１１２３４５６７８９０００００００",
    "81123456789000000٣",
])
def test_malformed_is_refused_without_lookup(text: str) -> None:
    def lookup(slot: int) -> bytes | None:
        raise AssertionError("no lookup for a malformed code")

    with pytest.raises(InvalidToken):
        verify_payment_code_at_time(text, lookup, T)
    assert not is_payment_code(text)


def test_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidToken):
        verify_payment_code_at_time(811234567890000000, DEVICES, T)  # type: ignore[arg-type]


def test_datetime_twins() -> None:
    now = datetime.fromtimestamp(T + 12, UTC)
    code = generate_payment_code(SECRET_A, SLOT_A, now=now)
    assert code == generate_payment_code_at_time(SECRET_A, SLOT_A, T + 12)
    assert verify_payment_code(code, DEVICES, now=now) == (SLOT_A, T // STEP_S)


def test_generation_arguments() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        generate_payment_code_at_time(b"short", SLOT_A, T)
    with pytest.raises(ValueError, match="at most 9 digits"):
        generate_payment_code_at_time(SECRET_A, 10**9, T)
    with pytest.raises(ValueError, match="at most 9 digits"):
        generate_payment_code_at_time(SECRET_A, -1, T)
    with pytest.raises(ValueError, match="1970"):
        generate_payment_code_at_time(SECRET_A, SLOT_A, -1)


def test_new_device_secrets_are_fresh_256_bit() -> None:
    a, b = new_device_secret(), new_device_secret()
    assert len(a) == len(b) == 32 and a != b
    code = generate_payment_code_at_time(a, 1, T)
    assert verify_payment_code_at_time(code, _lookup({1: a}), T) == (1, T // STEP_S)
