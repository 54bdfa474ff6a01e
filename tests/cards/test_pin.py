from __future__ import annotations

import pytest

from ecard.audit.services import Actor
from ecard.cards.interfaces import IssueRequest
from ecard.cards.models import Pin
from ecard.cards.pin import (
    MAX_FAILED_ATTEMPTS,
    PinService,
    check_new_pin,
    check_pin_format,
    make_hasher,
    weakness,
)
from ecard.cards.services import CardService
from ecard.errors import EcardError
from ecard.platform import Platform
from tests.cards.conftest import BANK
from tests.cards.helpers import GOOD_PIN, OTHER_PIN
from tests.support.channel_client import ChannelIdentity
from tests.support.factories import Holder, make_holder, make_id_number, passed_session

ID = make_id_number("110101", "19550307", "123")  # 11010119550307123X-like


@pytest.mark.parametrize("pin", ["12345", "1234567", "12a456", "", "１２３４５６", " 12345",
                                 "٤٨٢٩١٣"])
def test_pin_must_be_six_ascii_digits(pin: str) -> None:
    with pytest.raises(EcardError) as err:
        check_pin_format(pin)
    assert err.value.code == "PIN_FORMAT_INVALID"


@pytest.mark.parametrize(("pin", "reason"), [
    ("123456", "run"), ("012345", "run"), ("654321", "run"), ("456789", "run"),
    ("111111", "repeat"), ("000000", "repeat"), ("121212", "repeat"), ("123123", "repeat"),
    (ID[:6], "from_id_number"), (ID[6:12], "from_id_number"), (ID[11:17], "from_id_number"),
    ("550307", "from_id_number"),  # YYMMDD is inside the ID number
    ("030755", "birth_date"), ("070355", "birth_date"), ("550703", "birth_date"),
])
def test_weak_pins_are_refused_with_the_reason(pin: str, reason: str) -> None:
    assert weakness(pin, ID) == reason
    with pytest.raises(EcardError) as err:
        check_new_pin(pin, ID)
    assert err.value.code == "PIN_TOO_WEAK"
    assert err.value.details == {"reason": reason}


@pytest.mark.parametrize("pin", [GOOD_PIN, OTHER_PIN, "135790", "864209"])
def test_good_pins_pass(pin: str) -> None:
    assert check_new_pin(pin, ID) == pin


def test_argon2id_with_explicit_parameters() -> None:
    hasher = make_hasher()
    digest = hasher.hash(GOOD_PIN)
    assert digest.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not hasher.check_needs_rehash(digest)
    assert make_hasher(time_cost=4).check_needs_rehash(digest)


def _pin_row(platform: Platform, person_id: int) -> Pin:
    with platform.db.session() as session:
        row = session.get(Pin, person_id)
        assert row is not None
        return row


@pytest.fixture
def pinned(cached_platform: Platform) -> tuple[PinService, Holder]:
    holder = make_holder(cached_platform)
    pins = PinService(cached_platform.clock,
                      make_hasher(time_cost=1, memory_kib=8192, parallelism=1))
    with cached_platform.db.transaction() as session:
        pins.set_initial(session, holder.person_id, GOOD_PIN)
    return pins, holder


def _verify(platform: Platform, pins: PinService, person_id: int,
            pin: str) -> EcardError | None:
    try:
        with platform.db.transaction() as session:
            pins.verify(session, person_id, pin, actor=Actor("channel", BANK),
                        channel_no=BANK)
    except EcardError as exc:
        return exc
    return None


def test_wrong_tries_count_down_then_lock(cached_platform: Platform,
                                          pinned: tuple[PinService, Holder]) -> None:
    pins, holder = pinned
    for left in range(MAX_FAILED_ATTEMPTS - 1, 0, -1):
        err = _verify(cached_platform, pins, holder.person_id, OTHER_PIN)
        assert err is not None and err.code == "PIN_WRONG"
        assert err.details == {"remaining_attempts": left}
    err = _verify(cached_platform, pins, holder.person_id, OTHER_PIN)  # the sixth wrong try locks
    assert err is not None and err.code == "PIN_LOCKED" and err.status == 423
    row = _pin_row(cached_platform, holder.person_id)
    assert row.failed_attempts == MAX_FAILED_ATTEMPTS and row.locked_at is not None
    err = _verify(cached_platform, pins, holder.person_id, GOOD_PIN)  # even the right PIN, now
    assert err is not None and err.code == "PIN_LOCKED"


def test_a_right_pin_resets_the_counter(cached_platform: Platform,
                                        pinned: tuple[PinService, Holder]) -> None:
    pins, holder = pinned
    for _ in range(3):
        assert _verify(cached_platform, pins, holder.person_id, OTHER_PIN) is not None
    assert _pin_row(cached_platform, holder.person_id).failed_attempts == 3
    assert _verify(cached_platform, pins, holder.person_id, GOOD_PIN) is None
    assert _pin_row(cached_platform, holder.person_id).failed_attempts == 0
    err = _verify(cached_platform, pins, holder.person_id, OTHER_PIN)
    assert err is not None and err.details == {"remaining_attempts": 5}


def test_the_count_is_an_atomic_increment(cached_platform: Platform,
                                          pinned: tuple[PinService, Holder]) -> None:
    """Two processes that both read 0 still end at 2: the UPDATE adds in the database."""
    _, holder = pinned
    now = cached_platform.clock.now()
    with cached_platform.db.session() as s1, cached_platform.db.session() as s2:
        from ecard.cards.pin import PinService as P
        for session in (s1, s2):
            with session.begin():
                P._count_failure(session, holder.person_id, now)
    assert _pin_row(cached_platform, holder.person_id).failed_attempts == 2


def test_locked_pin_is_reset_by_a_face_check(cached_platform: Platform, svc: CardService,
                                             bank: ChannelIdentity, holder: Holder) -> None:
    with cached_platform.db.transaction() as session:
        issued = svc.issue_card(session, BANK, IssueRequest(
            holder.name, holder.id_number, holder.card_no,
            passed_session(cached_platform, holder.person_id, BANK), GOOD_PIN))
    sign_no = issued.card.sign_no
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(EcardError), cached_platform.db.transaction() as session:
            svc.verify_pin(session, BANK, sign_no, OTHER_PIN)
    with pytest.raises(EcardError) as err, cached_platform.db.transaction() as session:
        svc.verify_pin(session, BANK, sign_no, GOOD_PIN)
    assert err.value.code == "PIN_LOCKED"
    with cached_platform.db.transaction() as session:
        svc.reset_pin(session, BANK, sign_no, passed_session(
            cached_platform, holder.person_id, BANK, purpose="pin_reset"), OTHER_PIN)
    row = _pin_row(cached_platform, holder.person_id)
    assert row.failed_attempts == 0 and row.locked_at is None
    with cached_platform.db.transaction() as session:
        svc.verify_pin(session, BANK, sign_no, OTHER_PIN)


def test_concurrent_wrong_tries_are_all_counted(cached_platform: Platform,
                                                pinned: tuple[PinService, Holder]) -> None:
    """Eight wrong tries at once from eight connections: none is lost, the PIN ends
    locked; on PostgreSQL the row lock makes the count exactly six."""
    from concurrent.futures import ThreadPoolExecutor

    pins, holder = pinned
    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = list(pool.map(
            lambda _: _verify(cached_platform, pins, holder.person_id, OTHER_PIN), range(8)))
    codes = sorted(e.code for e in errors if e is not None)
    assert len(codes) == 8 and "PIN_LOCKED" in codes
    row = _pin_row(cached_platform, holder.person_id)
    assert row.locked_at is not None and row.failed_attempts >= MAX_FAILED_ATTEMPTS
    if cached_platform.db.dialect == "postgresql":
        assert row.failed_attempts == MAX_FAILED_ATTEMPTS
        assert codes.count("PIN_WRONG") == MAX_FAILED_ATTEMPTS - 1
