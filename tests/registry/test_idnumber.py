from __future__ import annotations

from datetime import date

import pytest

from ecard.registry.idnumber import (
    IdentifierError,
    check_char,
    normalise_card_number,
    normalise_region,
    parse_id_number,
)

TODAY = date(2026, 1, 1)


@pytest.mark.parametrize("number, birth, gender", [
    # the GB 11643 worked example and well-known published specimens
    ("11010519491231002X", date(1949, 12, 31), "2"),
    ("440524188001010014", None, None),  # 1880: valid check digit, but before 1900
    ("110101199003074477", date(1990, 3, 7), "1"),
    ("110101199003071196", date(1990, 3, 7), "1"),
])
def test_known_ids(number: str, birth: date | None, gender: str | None) -> None:
    if birth is None:
        with pytest.raises(IdentifierError) as exc:
            parse_id_number(number, today=TODAY)
        assert exc.value.code == "ID_BIRTH_TOO_EARLY"
        return
    cid = parse_id_number(number, today=TODAY)
    assert cid.number == number
    assert cid.birth_date == birth
    assert cid.gender == gender
    assert cid.region == number[:6]


def test_check_char_agrees_with_an_independent_implementation() -> None:
    import random

    from tests.support.factories import id_check_char
    rng = random.Random(7)
    for _ in range(2000):
        first17 = "".join(rng.choices("0123456789", k=17))
        assert check_char(first17) == id_check_char(first17)


def test_lower_case_x_is_normalised() -> None:
    cid = parse_id_number(" 11010519491231002x ", today=TODAY)
    assert cid.number == "11010519491231002X"
    assert cid.gender == "2"  # 17th digit 2: even


def test_check_char_matches_iso_7064() -> None:
    assert check_char("11010519491231002") == "X"
    assert check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        check_char("1101051949123100")


@pytest.mark.parametrize("value, code", [
    ("", "ID_MISSING"),
    ("11010519491231002", "ID_LENGTH"),
    ("11010519491231002X1", "ID_LENGTH"),
    ("1101051949123100AX", "ID_FORMAT"),
    ("11010519491231002Y", "ID_FORMAT"),
    ("X10105194912310021", "ID_FORMAT"),
    ("990105194912310029", "ID_REGION"),
    ("110105194902300020", "ID_BIRTH_DATE"),  # 30 February
    ("110105194913010020", "ID_BIRTH_DATE"),  # month 13
    ("110105210001010020", "ID_BIRTH_FUTURE"),
    ("110105189912310020", "ID_BIRTH_TOO_EARLY"),
    ("110105194912310021", "ID_CHECK_DIGIT"),
    ("110105194912310020", "ID_CHECK_DIGIT"),
])
def test_invalid_ids_have_precise_reasons(value: str, code: str) -> None:
    with pytest.raises(IdentifierError) as exc:
        parse_id_number(value, today=TODAY)
    assert exc.value.code == code
    assert exc.value.message


def test_birth_date_today_is_accepted_and_tomorrow_is_not() -> None:
    first17 = "11010520260101001"
    number = first17 + check_char(first17)
    assert parse_id_number(number, today=TODAY).birth_date == TODAY
    with pytest.raises(IdentifierError) as exc:
        parse_id_number(number, today=date(2025, 12, 31))
    assert exc.value.code == "ID_BIRTH_FUTURE"


def test_leap_day() -> None:
    first17 = "11010520000229001"
    assert parse_id_number(first17 + check_char(first17), today=TODAY).birth_date == \
        date(2000, 2, 29)
    first17 = "11010519000229001"  # 1900 is no leap year
    with pytest.raises(IdentifierError) as exc:
        parse_id_number(first17 + check_char(first17), today=TODAY)
    assert exc.value.code == "ID_BIRTH_DATE"


@pytest.mark.parametrize("value, expected", [
    ("A12345678", "A12345678"), ("a12345678", "A12345678"), (" 123456789 ", "123456789"),
])
def test_card_numbers(value: str, expected: str) -> None:
    assert normalise_card_number(value) == expected


@pytest.mark.parametrize("value", ["", "A1234567", "A123456789", "A1234567-", "A1234567é"])
def test_bad_card_numbers(value: str) -> None:
    with pytest.raises(IdentifierError) as exc:
        normalise_card_number(value)
    assert exc.value.code == "CARD_NUMBER_INVALID"


@pytest.mark.parametrize("value, ok", [
    ("110101", True), ("440305", True), ("11010", False), ("1101011", False),
    ("11010a", False), ("990101", False), ("", False),
])
def test_regions(value: str, ok: bool) -> None:
    if ok:
        assert normalise_region(value) == value
    else:
        with pytest.raises(IdentifierError) as exc:
            normalise_region(value)
        assert exc.value.code == "REGION_INVALID"
