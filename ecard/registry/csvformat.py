"""The registry import file: one physical card holder per row.

Encoding UTF-8, with or without a byte-order mark; comma-separated with ``"`` quoting
(RFC 4180); the first row names the columns, in any order. Column names are the
registry's standard codes where one exists:

==================  ========  ====================================================
column              required  content
==================  ========  ====================================================
``aac002``          yes       citizen ID number, 18 characters (``x`` → ``X``)
``aac003``          yes       name, 1-50 letters (``·``, space, ``-``, ``.``, ``'``
                              allowed between them; no digits)
``aab301``          yes       issuing region code, 6 digits
``aaz500``          yes       card number, 9 letters or digits (upper-cased)
``card_generation`` yes       1, 2 or 3
``bank_code``       column    bank code, 2-16 letters or digits; may be empty
``bank_account``    column    bank account of the card's financial function,
                              12-30 digits; may be empty
``reserved_phone``  column    the holder's reserved mobile number, 11 digits
                              starting 13-19; may be empty
``card_status``     yes       ``active``, ``lost``, ``cancelled`` or ``replaced``
``replaced_by``     column    the new card number; given exactly when the status
                              is ``replaced``
``photo``           optional  enrolment photo file (JPEG or PNG), relative to the
                              ``--photos`` folder; may be empty
``aac006``          optional  birth date (``YYYY-MM-DD`` or ``YYYYMMDD``); when
                              given it must equal the date inside the ID number
==================  ========  ====================================================

"column" means the column must be present in the header while a row may leave the
value empty. Blank lines are skipped. Gender and birth date are taken from the ID.

A row is rejected, with a machine code from :data:`REASONS` and an English sentence,
when a field is malformed, when it repeats the ID number or a card number (as
``aaz500`` or ``replaced_by``) of an earlier well-formed row of the same file, when
its card number belongs to another person, when it asks for a status change the card
cannot make (``cancelled`` and ``replaced`` are final), or when its photo cannot be
read or does not show exactly one face. Rejected rows are written to the rejects
file: the row as given, then ``line``, ``reason_code`` and ``reason``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from ecard.errors import CATALOGUE
from ecard.registry.idnumber import (
    CitizenId,
    IdentifierError,
    normalise_card_number,
    normalise_region,
    parse_id_number,
)
from ecard.registry.models import CARD_STATUSES

REQUIRED_COLUMNS = (
    "aac002", "aac003", "aab301", "aaz500", "card_generation", "bank_code",
    "bank_account", "reserved_phone", "card_status", "replaced_by",
)
OPTIONAL_COLUMNS = ("photo", "aac006")
REJECT_EXTRA_COLUMNS = ("line", "reason_code", "reason")

_FACE_CODES = ("IMAGE_INVALID", "IMAGE_TOO_LARGE", "FACE_NOT_FOUND", "FACE_MULTIPLE",
               "FACE_TOO_DARK", "FACE_TOO_SMALL")

# Every reason a row can be rejected for: code -> what it means.
REASONS: dict[str, str] = {
    "ROW_UNREADABLE": "the row breaks the CSV syntax (e.g. an unclosed quote)",
    "ENCODING_INVALID": "the row is not valid UTF-8",
    "COLUMN_COUNT": "the row does not have as many fields as the header",
    "FIELD_MISSING": "a required field is empty",
    "ID_MISSING": "the ID number is empty",
    "ID_LENGTH": "the ID number does not have 18 characters",
    "ID_FORMAT": "the ID number is not 17 digits followed by a digit or X",
    "ID_REGION": "the ID number does not start with a province code",
    "ID_BIRTH_DATE": "the birth date inside the ID number is not a real date",
    "ID_BIRTH_FUTURE": "the birth date inside the ID number lies in the future",
    "ID_BIRTH_TOO_EARLY": "the birth date inside the ID number is before 1900",
    "ID_CHECK_DIGIT": "the ID number's check character does not match (MOD 11-2)",
    "BIRTH_DATE_INVALID": "the aac006 birth date cannot be read",
    "BIRTH_DATE_MISMATCH": "the aac006 birth date differs from the one inside the ID",
    "NAME_INVALID": "the name is empty, too long or has characters names do not have",
    "REGION_INVALID": "the region code is not 6 digits starting with a province code",
    "CARD_NUMBER_INVALID": "the card number is not 9 letters or digits",
    "GENERATION_INVALID": "the card generation is not 1, 2 or 3",
    "BANK_CODE_INVALID": "the bank code is not 2-16 letters or digits",
    "BANK_ACCOUNT_INVALID": "the bank account is not 12-30 digits",
    "PHONE_INVALID": "the reserved phone is not an 11-digit mobile number",
    "STATUS_INVALID": "the card status is not active, lost, cancelled or replaced",
    "REPLACED_BY_MISSING": "the status is replaced but replaced_by is empty",
    "REPLACED_BY_UNEXPECTED": "replaced_by is given but the status is not replaced",
    "REPLACED_BY_INVALID": "replaced_by is not a valid card number",
    "REPLACED_BY_SELF": "replaced_by names the card itself",
    "DUPLICATE_ID_IN_FILE": "an earlier row of this file has the same ID number",
    "DUPLICATE_CARD_IN_FILE": "an earlier row of this file has the same card number",
    "CARD_OWNED_BY_OTHER": "the card number belongs to another person in the registry",
    "REPLACEMENT_CARD_INVALID": "the replacement card belongs to another person or is "
                                "no longer active",
    "STATUS_TRANSITION_INVALID": "the card's current status does not allow this change",
    "PHOTO_PATH_INVALID": "the photo path is absolute or leaves the photos folder",
    "PHOTO_NOT_FOUND": "the photo file does not exist or cannot be read",
    **{code: CATALOGUE[code].en for code in _FACE_CODES},
}

_NAME_JOINERS = frozenset("·•・ -.'")
_BANK_CODE_RE = re.compile(r"[0-9A-Z]{2,16}")
_ACCOUNT_RE = re.compile(r"\d{12,30}")
_PHONE_RE = re.compile(r"1[3-9]\d{9}")
_DATE_RE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
MAX_NAME_CHARS = 50


class HeaderError(ValueError):
    """The file's header cannot be used: nothing in the file is imported."""


class RowRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Header:
    names: tuple[str, ...]  # as written in the file (for the rejects file)
    index: dict[str, int]  # column code -> position

    @property
    def has_photo(self) -> bool:
        return "photo" in self.index


@dataclass(slots=True)
class RegistryRow:
    """One well-formed row, normalised."""

    line: int
    fields: list[str]  # as given, for the rejects file
    citizen: CitizenId
    name: str
    region: str
    card_no: str
    generation: int
    bank_code: str
    bank_account: str
    phone: str
    status: str
    replaced_by: str
    photo: str

    def canonical(self) -> str:
        """The content the row hash covers (the photo enters as its bytes' hash)."""
        return "\x1f".join((
            self.citizen.number, self.name, self.region, self.card_no, str(self.generation),
            self.bank_code, self.bank_account, self.phone, self.status, self.replaced_by))


def parse_header(fields: list[str]) -> Header:
    names = tuple(fields)
    index: dict[str, int] = {}
    for pos, raw in enumerate(fields):
        key = raw.strip().lower()
        if key in index:
            raise HeaderError(f"column {key!r} appears twice in the header")
        if key not in REQUIRED_COLUMNS and key not in OPTIONAL_COLUMNS:
            raise HeaderError(
                f"unknown column {raw!r} in the header; expected "
                f"{', '.join(REQUIRED_COLUMNS)} and optionally {', '.join(OPTIONAL_COLUMNS)}")
        index[key] = pos
    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if missing:
        raise HeaderError(f"the header lacks the column(s) {', '.join(missing)}")
    return Header(names, index)


def _name(value: str) -> str:
    name = unicodedata.normalize("NFC", " ".join(value.split()))
    if not name:
        raise RowRejected("FIELD_MISSING", "the name (aac003) is empty")
    if len(name) > MAX_NAME_CHARS:
        raise RowRejected("NAME_INVALID", f"the name is longer than {MAX_NAME_CHARS} "
                          "characters")
    if name[0] in _NAME_JOINERS or name[-1] in _NAME_JOINERS:
        raise RowRejected("NAME_INVALID", "the name starts or ends with a separator")
    for ch in name:
        if ch in _NAME_JOINERS:
            continue
        if unicodedata.category(ch)[0] not in "LM":
            raise RowRejected("NAME_INVALID", f"the name contains {ch!r}, which names "
                              "do not contain")
    return name


def _birth_date(value: str) -> date:
    m = _DATE_RE.fullmatch(value)
    if not m:
        raise RowRejected("BIRTH_DATE_INVALID", "the birth date (aac006) must be "
                          "YYYY-MM-DD or YYYYMMDD")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise RowRejected("BIRTH_DATE_INVALID",
                          "the birth date (aac006) is not a real date") from exc


def parse_row(header: Header, fields: list[str], line: int, *, today: date) -> RegistryRow:
    """Validate one data row, or raise :class:`RowRejected` with the first problem."""
    if len(fields) != len(header.names):
        raise RowRejected("COLUMN_COUNT", f"the row has {len(fields)} fields; the header "
                          f"has {len(header.names)}")
    for value in fields:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # undecodable bytes kept by surrogateescape
            raise RowRejected("ENCODING_INVALID", "the row is not valid UTF-8") from exc
    ix = header.index

    def get(col: str) -> str:
        pos = ix.get(col)
        return fields[pos].strip() if pos is not None else ""

    try:
        citizen = parse_id_number(get("aac002"), today=today)
        name = _name(get("aac003"))
        region = normalise_region(get("aab301"))
        card_no = normalise_card_number(get("aaz500"))
    except IdentifierError as exc:
        raise RowRejected(exc.code, exc.message) from exc
    birth = get("aac006")
    if birth and _birth_date(birth) != citizen.birth_date:
        raise RowRejected("BIRTH_DATE_MISMATCH", "the birth date (aac006) differs from the "
                          "birth date inside the ID number")
    generation = get("card_generation")
    if generation not in ("1", "2", "3"):
        raise RowRejected("GENERATION_INVALID", "the card generation must be 1, 2 or 3")
    bank_code = get("bank_code").upper()
    if bank_code and not _BANK_CODE_RE.fullmatch(bank_code):
        raise RowRejected("BANK_CODE_INVALID", "the bank code must be 2-16 letters or digits")
    account = get("bank_account").replace(" ", "")
    if account and not _ACCOUNT_RE.fullmatch(account):
        raise RowRejected("BANK_ACCOUNT_INVALID", "the bank account must be 12-30 digits")
    phone = get("reserved_phone").replace(" ", "").replace("-", "")
    if phone and not _PHONE_RE.fullmatch(phone):
        raise RowRejected("PHONE_INVALID", "the reserved phone must be an 11-digit mobile "
                          "number starting 13-19")
    status = get("card_status").lower()
    if not status:
        raise RowRejected("FIELD_MISSING", "the card status (card_status) is empty")
    if status not in CARD_STATUSES:
        raise RowRejected("STATUS_INVALID", f"the card status {status!r} is not one of "
                          f"{', '.join(CARD_STATUSES)}")
    replaced_by = get("replaced_by").upper()
    if status == "replaced":
        if not replaced_by:
            raise RowRejected("REPLACED_BY_MISSING", "the card is replaced but replaced_by "
                              "gives no new card number")
        try:
            replaced_by = normalise_card_number(replaced_by)
        except IdentifierError as exc:
            raise RowRejected("REPLACED_BY_INVALID", "replaced_by must be 9 letters or "
                              "digits") from exc
        if replaced_by == card_no:
            raise RowRejected("REPLACED_BY_SELF", "replaced_by names the card itself")
    elif replaced_by:
        raise RowRejected("REPLACED_BY_UNEXPECTED", "replaced_by is only given for a "
                          "replaced card")
    return RegistryRow(
        line=line, fields=fields, citizen=citizen, name=name, region=region,
        card_no=card_no, generation=int(generation), bank_code=bank_code,
        bank_account=account, phone=phone, status=status, replaced_by=replaced_by,
        photo=get("photo"))


def reasons_markdown() -> str:
    """The README's table of reject codes."""
    rows = ["| reason_code | meaning |", "|---|---|"]
    rows += [f"| `{code}` | {text} |" for code, text in REASONS.items()]
    return "\n".join(rows)
