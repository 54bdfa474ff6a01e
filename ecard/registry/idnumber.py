"""Formats of the registry's identifiers, validated with precise reasons.

* Citizen ID number (公民身份号码, ``aac002``, GB 11643): 18 characters — a 6-digit
  region code, the birth date ``YYYYMMDD``, a 3-digit sequence whose last digit is odd
  for men and even for women, and a check character computed by ISO 7064 MOD 11-2
  (``0``-``9`` or ``X``). A lower-case ``x`` is accepted and normalised to ``X``.
* Card number (社会保障卡卡号, ``aaz500``): 9 upper-case letters or digits.
* Region code (行政区划代码, ``aab301``): 6 digits starting with a province code.

Every failure is an :class:`IdentifierError` with a machine code (``ID_CHECK_DIGIT``,
``ID_BIRTH_FUTURE`` ...) and an English sentence for the operator.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import date

# ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 for the first 17 positions, and the check
# character for each remainder of the weighted sum.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# First two digits of GB/T 2260 region codes: provinces, autonomous regions and
# municipalities (11-65), Taiwan (71), Hong Kong (81), Macao (82) and 83, used by the
# residence permits of Taiwan residents.
PROVINCE_PREFIXES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
    "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
    "63", "64", "65", "71", "81", "82", "83",
})
EARLIEST_BIRTH = date(1900, 1, 1)

_CARD_RE = re.compile(r"[0-9A-Z]{9}")
_REGION_RE = re.compile(r"\d{6}")
_ID_BODY_RE = re.compile(r"\d{17}")


class IdentifierError(ValueError):
    """A malformed identifier: ``code`` is machine-readable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CitizenId:
    number: str  # normalised: 18 characters, upper-case X
    region: str
    birth_date: date
    sequence: str
    gender: str  # "1" male, "2" female (GB/T 2261.1)


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if not _ID_BODY_RE.fullmatch(first17):
        raise ValueError("the check character is computed over 17 digits")
    total = sum(map(operator.mul, map(int, first17), _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def parse_id_number(value: str, *, today: date) -> CitizenId:
    """Validate and decompose a citizen ID number, or raise :class:`IdentifierError`."""
    number = value.strip().upper()
    if not number:
        raise IdentifierError("ID_MISSING", "the ID number is empty")
    if len(number) != 18:
        raise IdentifierError(
            "ID_LENGTH", f"the ID number has {len(number)} characters; it must have 18")
    if not _ID_BODY_RE.fullmatch(number[:17]) or number[17] not in "0123456789X":
        raise IdentifierError(
            "ID_FORMAT", "the ID number must be 17 digits followed by a digit or X")
    region = number[:6]
    if region[:2] not in PROVINCE_PREFIXES:
        raise IdentifierError(
            "ID_REGION", f"the ID number's region code starts with {region[:2]}, "
            "which is no province code")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise IdentifierError(
            "ID_BIRTH_DATE", "the birth date inside the ID number is not a real date") from exc
    if birth > today:
        raise IdentifierError("ID_BIRTH_FUTURE",
                              "the birth date inside the ID number lies in the future")
    if birth < EARLIEST_BIRTH:
        raise IdentifierError("ID_BIRTH_TOO_EARLY",
                              "the birth date inside the ID number is before 1900")
    expected = check_char(number[:17])
    if number[17] != expected:
        raise IdentifierError(
            "ID_CHECK_DIGIT", "the ID number's check character does not match "
            "(ISO 7064 MOD 11-2); a digit is probably mistyped")
    sequence = number[14:17]
    gender = "1" if int(sequence[2]) % 2 == 1 else "2"
    return CitizenId(number, region, birth, sequence, gender)


def normalise_card_number(value: str) -> str:
    """The card number in upper case, or :class:`IdentifierError` (``CARD_NUMBER_INVALID``)."""
    card = value.strip().upper()
    if not _CARD_RE.fullmatch(card):
        raise IdentifierError("CARD_NUMBER_INVALID",
                              "the card number must be 9 letters (A-Z) or digits")
    return card


def normalise_region(value: str) -> str:
    region = value.strip()
    if not _REGION_RE.fullmatch(region):
        raise IdentifierError("REGION_INVALID", "the region code must be 6 digits")
    if region[:2] not in PROVINCE_PREFIXES:
        raise IdentifierError("REGION_INVALID",
                              f"the region code starts with {region[:2]}, which is no province "
                              "code")
    return region


def is_card_number(value: str) -> bool:
    return bool(_CARD_RE.fullmatch(value))
