"""The pension payout file a bank consumes (待遇发放指令文件), version 1.

Text, UTF-8, one record per line, lines end with LF, fields separated by ``|``
(no field may contain ``|``, CR or LF). Three record types, in this order::

    H|ECPAYOUT|1|<bank>|<day YYYYMMDD>|<batch no, 6 digits>|<created YYYYMMDDhhmmss>|<count>|<sum>
    D|<seq>|<kind>|<recipient ref>|<account>|<name>|<effective YYYYMMDD>|<months>|<amount fen>
    T|<count>|<sum>|<SHA-256 hex of every byte before this line>

* ``bank`` is the bank code; ``day`` the business day (China Standard Time);
  ``created`` the time the batch was made (China Standard Time).
* ``seq`` numbers the detail records 1, 2, 3 ... with no gap.
* ``kind``: ``SUSPEND`` (stop paying from ``effective``: the day after the
  certification lapsed), ``REINSTATE`` (pay again from ``effective``), ``BACKPAY``
  (pay ``months`` withheld months, ``amount`` fen in total, once), ``STOP`` (death,
  from ``effective``; final). ``SUSPEND``, ``REINSTATE`` and ``STOP`` carry months 0
  and amount 0; a ``BACKPAY`` at least 1 month and 1 fen and always follows the
  ``REINSTATE`` of the same recipient.
* ``recipient ref`` is the platform's recipient number (stable, not personal);
  ``account`` the pension account (12-30 digits) and ``name`` the holder's full name,
  which the bank matches against the account before acting.
* ``count`` is the number of ``D`` records and ``sum`` (the control sum) the sum of
  their amounts in fen, both in the header and the trailer.

The signature sits beside the file in ``<file name>.sig``: a compact JWS (ES256,
``typ: ecard-payout+jwt``, ``kid`` in the platform's JWKS) with claims ``iss``
``"ecard"``, ``aud`` the bank code, ``iat``, ``file`` (the file name), ``fh``
(base64url SHA-256 of the file's bytes), ``batch_no``, ``records`` and
``control_sum_fen``. :func:`read_payout_file` is the bank's side: it refuses the
whole file on the first broken rule, naming the line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from channel_adapters.interfaces import PayoutFileInvalid
from channel_adapters.signing import (
    ISSUER,
    InvalidSignature,
    decode_platform_jws,
    sha256_b64url,
)

if TYPE_CHECKING:
    from ecard.tokens.services import KeyRing

FORMAT, VERSION = "ECPAYOUT", "1"
SIGNATURE_TYP = "ecard-payout+jwt"
KINDS = ("SUSPEND", "REINSTATE", "BACKPAY", "STOP")
BANK_CODE_RE = re.compile(r"[A-Z0-9]{2,16}")
_ACCOUNT_RE = re.compile(r"[0-9]{12,30}")
_INT_RE = re.compile(r"(0|[1-9][0-9]{0,14})")


@dataclass(frozen=True)
class PayoutRecord:
    seq: int
    kind: str
    recipient_ref: str
    account: str
    name: str
    effective_on: date
    months: int
    amount_fen: int


@dataclass(frozen=True)
class PayoutFile:
    bank_code: str
    business_day: date
    batch_no: int
    created: str
    records: tuple[PayoutRecord, ...]

    @property
    def record_count(self) -> int:
        return len(self.records)

    @property
    def control_sum_fen(self) -> int:
        return sum(r.amount_fen for r in self.records)


def file_name(bank_code: str, day: date, batch_no: int) -> str:
    return f"{FORMAT}_{bank_code}_{day:%Y%m%d}_{batch_no:06d}.txt"


def _field(value: str) -> str:
    if any(ch in value for ch in "|\r\n"):
        raise ValueError(f"a payout field may not contain '|', CR or LF: {value!r}")
    return value


def check_record(r: PayoutRecord) -> None:
    """The rules of one detail record (shared by the writer and the reader)."""
    if r.kind not in KINDS:
        raise ValueError(f"kind is not one of {', '.join(KINDS)}")
    if not _ACCOUNT_RE.fullmatch(r.account):
        raise ValueError("account is not 12-30 digits")
    if not r.name.strip() or not r.recipient_ref.strip():
        raise ValueError("name and recipient ref must not be empty")
    if r.kind == "BACKPAY":
        if r.months < 1 or r.amount_fen < 1:
            raise ValueError("BACKPAY needs at least 1 month and 1 fen")
    elif r.months != 0 or r.amount_fen != 0:
        raise ValueError(f"{r.kind} carries months 0 and amount 0")


def render(payout: PayoutFile) -> bytes:
    """The file's exact bytes."""
    count, total = payout.record_count, payout.control_sum_fen
    lines = ["|".join(["H", FORMAT, VERSION, payout.bank_code, f"{payout.business_day:%Y%m%d}",
                       f"{payout.batch_no:06d}", payout.created, str(count), str(total)])]
    for expected_seq, r in enumerate(payout.records, start=1):
        if r.seq != expected_seq:
            raise ValueError("records must be numbered 1, 2, 3 ... in order")
        check_record(r)
        lines.append("|".join(["D", str(r.seq), r.kind, _field(r.recipient_ref),
                               r.account, _field(r.name), f"{r.effective_on:%Y%m%d}",
                               str(r.months), str(r.amount_fen)]))
    body = ("\n".join(lines) + "\n").encode("utf-8")
    trailer = f"T|{count}|{total}|{hashlib.sha256(body).hexdigest()}\n".encode()
    return body + trailer


def sign(keyring: KeyRing, payout: PayoutFile, data: bytes, now_s: int) -> str:
    return keyring.sign({
        "iss": ISSUER, "aud": payout.bank_code, "iat": now_s,
        "file": file_name(payout.bank_code, payout.business_day, payout.batch_no),
        "fh": sha256_b64url(data), "batch_no": payout.batch_no,
        "records": payout.record_count, "control_sum_fen": payout.control_sum_fen},
        typ=SIGNATURE_TYP)


# --- the bank's side ------------------------------------------------------------

def _int(text: str, what: str, line: int) -> int:
    if not _INT_RE.fullmatch(text):
        raise PayoutFileInvalid(f"line {line}: {what} is not a whole number")
    return int(text)


def _day(text: str, what: str, line: int) -> date:
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise PayoutFileInvalid(f"line {line}: {what} is not a YYYYMMDD date") from None


def _header(fields: Sequence[str], bank_code: str | None) -> tuple[str, date, int, str, int, int]:
    if len(fields) != 9 or fields[0] != "H":
        raise PayoutFileInvalid("line 1: not a header record (H with 9 fields)")
    if fields[1] != FORMAT or fields[2] != VERSION:
        raise PayoutFileInvalid(f"line 1: not an {FORMAT} version {VERSION} file")
    if not BANK_CODE_RE.fullmatch(fields[3]) or (bank_code and fields[3] != bank_code):
        raise PayoutFileInvalid(f"line 1: bank code {fields[3]!r} is not this bank's")
    day = _day(fields[4], "business day", 1)
    if not re.fullmatch(r"[0-9]{6}", fields[5]) or int(fields[5]) < 1:
        raise PayoutFileInvalid("line 1: batch number is not 6 digits from 000001")
    if not re.fullmatch(r"[0-9]{14}", fields[6]):
        raise PayoutFileInvalid("line 1: creation time is not YYYYMMDDhhmmss")
    return (fields[3], day, int(fields[5]), fields[6], _int(fields[7], "count", 1),
            _int(fields[8], "control sum", 1))


def _detail(fields: Sequence[str], line: int, seq: int) -> PayoutRecord:
    if len(fields) != 9 or fields[0] != "D":
        raise PayoutFileInvalid(f"line {line}: not a detail record (D with 9 fields)")
    if _int(fields[1], "sequence number", line) != seq:
        raise PayoutFileInvalid(f"line {line}: sequence number {fields[1]} where {seq} was due")
    record = PayoutRecord(seq, fields[2], fields[3], fields[4], fields[5],
                          _day(fields[6], "effective date", line),
                          _int(fields[7], "months", line), _int(fields[8], "amount", line))
    try:
        check_record(record)
    except ValueError as exc:
        raise PayoutFileInvalid(f"line {line}: {exc}") from None
    return record


def read_payout_file(data: bytes, signature: str | None, *, jwks: dict[str, Any] | None,
                     bank_code: str | None = None, name: str | None = None) -> PayoutFile:
    """Validate a payout file; returns it parsed or raises :class:`PayoutFileInvalid`.

    ``signature`` (the ``.sig`` file's text) is checked against ``jwks`` unless both
    are None (a format check only); ``bank_code`` is the reading bank's own code.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PayoutFileInvalid("the file is not UTF-8") from None
    if "\r" in text or not text.endswith("\n"):
        raise PayoutFileInvalid("lines must end with LF, the last one too")
    lines = text[:-1].split("\n")
    if len(lines) < 2:
        raise PayoutFileInvalid("a header and a trailer record are required")
    bank, day, batch_no, created, count, total = _header(lines[0].split("|"), bank_code)
    records = tuple(_detail(raw.split("|"), n, n - 1)
                    for n, raw in enumerate(lines[1:-1], start=2))
    last = len(lines)
    trailer = lines[-1].split("|")
    if len(trailer) != 4 or trailer[0] != "T":
        raise PayoutFileInvalid(f"line {last}: not a trailer record (T with 4 fields)")
    payout = PayoutFile(bank, day, batch_no, created, records)
    t_count, t_total = _int(trailer[1], "count", last), _int(trailer[2], "control sum", last)
    if not count == t_count == payout.record_count:
        raise PayoutFileInvalid(f"line {last}: record count {t_count} (header {count}) but "
                                f"{payout.record_count} detail records")
    if not total == t_total == payout.control_sum_fen:
        raise PayoutFileInvalid(f"line {last}: control sum {t_total} (header {total}) but "
                                f"the amounts add up to {payout.control_sum_fen}")
    before = data[:len(data) - len(lines[-1].encode()) - 1]
    if not hmac.compare_digest(trailer[3], hashlib.sha256(before).hexdigest()):
        raise PayoutFileInvalid(f"line {last}: the file digest does not match its content")
    kinds = [(r.recipient_ref, r.kind) for r in records]
    for i, r in enumerate(records):
        if r.kind == "BACKPAY" and (i == 0 or kinds[i - 1] != (r.recipient_ref, "REINSTATE")):
            raise PayoutFileInvalid(f"line {i + 2}: BACKPAY not right after its REINSTATE")
    if signature is not None or jwks is not None:
        _check_signature(payout, data, signature, jwks, name)
    return payout


def _check_signature(payout: PayoutFile, data: bytes, signature: str | None,
                     jwks: dict[str, Any] | None, name: str | None) -> None:
    if signature is None or jwks is None:
        raise PayoutFileInvalid("the signature and the platform's keys are both needed")
    try:
        claims = decode_platform_jws(signature.strip(), typ=SIGNATURE_TYP, jwks=jwks,
                                     audience=payout.bank_code)
    except InvalidSignature:
        raise PayoutFileInvalid("the signature does not verify with the platform's keys") \
            from None
    expected = {"fh": sha256_b64url(data), "batch_no": payout.batch_no,
                "records": payout.record_count, "control_sum_fen": payout.control_sum_fen,
                "file": name or file_name(payout.bank_code, payout.business_day,
                                          payout.batch_no)}
    for claim, value in expected.items():
        if claims.get(claim) != value:
            raise PayoutFileInvalid(f"the signature does not cover this file ({claim} differs)")
