from __future__ import annotations

from datetime import date

import pytest

from ecard.registry.csvformat import (
    REASONS,
    HeaderError,
    RowRejected,
    parse_header,
    parse_row,
)
from tests.registry.conftest import HEADER, row

TODAY = date(2026, 1, 1)
HDR = parse_header(HEADER)


def parse(**fields: str) -> object:
    r = row(**fields)
    return parse_row(HDR, [r[h] for h in HEADER], 2, today=TODAY)


def test_valid_row_is_normalised() -> None:
    parsed = parse(aac002="11010519491231002x", aac003="  张  三 ", aaz500="a12345678",
                   bank_code="icbc", reserved_phone="138-0013-8000")
    assert parsed.citizen.number == "11010519491231002X"  # type: ignore[attr-defined]
    assert parsed.name == "张 三"  # type: ignore[attr-defined]
    assert parsed.card_no == "A12345678"  # type: ignore[attr-defined]
    assert parsed.bank_code == "ICBC"  # type: ignore[attr-defined]
    assert parsed.phone == "13800138000"  # type: ignore[attr-defined]


@pytest.mark.parametrize("names", [
    ["aac002", "aac003"],
    [*HEADER, "email"],
    [*HEADER, "aac002"],
])
def test_bad_headers(names: list[str]) -> None:
    with pytest.raises(HeaderError):
        parse_header(names)


def test_header_is_case_insensitive_and_in_any_order() -> None:
    hdr = parse_header([h.upper() for h in reversed(HEADER)])
    assert hdr.index["aac002"] == len(HEADER) - 1
    assert hdr.has_photo


@pytest.mark.parametrize("fields, code", [
    ({"aac002": "11010519491231002"}, "ID_LENGTH"),
    ({"aac002": "110105194912310021"}, "ID_CHECK_DIGIT"),
    ({"aac002": "110105194902300020"}, "ID_BIRTH_DATE"),
    ({"aac002": ""}, "ID_MISSING"),
    ({"aac003": ""}, "FIELD_MISSING"),
    ({"aac003": "张3"}, "NAME_INVALID"),
    ({"aac003": "<script>"}, "NAME_INVALID"),
    ({"aac003": "·张三"}, "NAME_INVALID"),
    ({"aac003": "张" * 51}, "NAME_INVALID"),
    ({"aab301": "11010"}, "REGION_INVALID"),
    ({"aaz500": "A1234"}, "CARD_NUMBER_INVALID"),
    ({"card_generation": "4"}, "GENERATION_INVALID"),
    ({"card_generation": ""}, "GENERATION_INVALID"),
    ({"bank_code": "I"}, "BANK_CODE_INVALID"),
    ({"bank_account": "62220202"}, "BANK_ACCOUNT_INVALID"),
    ({"bank_account": "6222x20200112233445"}, "BANK_ACCOUNT_INVALID"),
    ({"reserved_phone": "23800138000"}, "PHONE_INVALID"),
    ({"reserved_phone": "1380013800"}, "PHONE_INVALID"),
    ({"card_status": "stolen"}, "STATUS_INVALID"),
    ({"card_status": ""}, "FIELD_MISSING"),
    ({"card_status": "replaced"}, "REPLACED_BY_MISSING"),
    ({"card_status": "replaced", "replaced_by": "B12"}, "REPLACED_BY_INVALID"),
    ({"card_status": "replaced", "replaced_by": "a12345678"}, "REPLACED_BY_SELF"),
    ({"card_status": "lost", "replaced_by": "B12345678"}, "REPLACED_BY_UNEXPECTED"),
    ({"aac003": "张\udcff"}, "ENCODING_INVALID"),
])
def test_malformed_rows(fields: dict[str, str], code: str) -> None:
    with pytest.raises(RowRejected) as exc:
        parse(**fields)
    assert exc.value.code == code
    assert code in REASONS
    assert exc.value.message


def test_optional_fields_may_be_empty() -> None:
    parsed = parse(bank_code="", bank_account="", reserved_phone="")
    assert parsed.bank_account == ""  # type: ignore[attr-defined]


def test_names_of_minorities_and_foreigners() -> None:
    assert parse(aac003="买买提·艾力").name == "买买提·艾力"  # type: ignore[attr-defined]
    assert parse(aac003="Anna-Lena O'Neil").name == "Anna-Lena O'Neil"  # type: ignore[attr-defined]


def test_column_count() -> None:
    r = row()
    with pytest.raises(RowRejected) as exc:
        parse_row(HDR, [r[h] for h in HEADER][:-2], 5, today=TODAY)
    assert exc.value.code == "COLUMN_COUNT"


def test_birth_date_column_must_match_the_id() -> None:
    hdr = parse_header([*HEADER, "aac006"])
    r = row(aac002="11010519491231002X")
    ok = [r[h] for h in HEADER]
    assert parse_row(hdr, [*ok, "1949-12-31"], 2, today=TODAY).citizen.birth_date == \
        date(1949, 12, 31)
    assert parse_row(hdr, [*ok, "19491231"], 2, today=TODAY)
    for value, code in (("1949-12-30", "BIRTH_DATE_MISMATCH"),
                        ("31/12/1949", "BIRTH_DATE_INVALID"),
                        ("1949-02-30", "BIRTH_DATE_INVALID")):
        with pytest.raises(RowRejected) as exc:
            parse_row(hdr, [*ok, value], 2, today=TODAY)
        assert exc.value.code == code
