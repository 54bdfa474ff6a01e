"""``ecard certification import-recipients``: pension recipients from CSV.

Columns (header row, any order): ``aac002`` (ID number), ``type``
(enterprise_retiree | resident | civil_servant), ``monthly_pension_fen``,
``funeral_grant_fen``, ``survivor_lump_sum_fen``, ``region`` (6 digits),
``bank_account`` (12-30 digits, stored encrypted), optional ``certified_until``
(YYYY-MM-DD; a new recipient without it is certified from the import day for one
period). As the registry import: streamed in batches (one transaction each), the
person found by blind index, a keyed hash of the row makes a re-run change nothing,
repeated ID numbers caught through a temporary table, and every refused row written
to ``<file>.rejects.csv`` with its line, a reason code and a sentence.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.certification.entitlement import add_months, period_months, status_on
from ecard.certification.models import RECIPIENT_TYPES, BenefitRecipient
from ecard.clock import Clock
from ecard.csvimport import SeenKeys, fit_to_header
from ecard.db import Database
from ecard.protect import DataProtector
from ecard.registry.idnumber import IdentifierError, parse_id_number
from ecard.registry.models import Person

COLUMNS = ("aac002", "type", "monthly_pension_fen", "funeral_grant_fen",
           "survivor_lump_sum_fen", "region", "bank_account")
OPTIONAL = ("certified_until",)
REASONS = {
    "COLUMN_COUNT": "the row does not have as many fields as the header",
    "ID_INVALID": "the ID number is not a valid citizen ID",
    "PERSON_NOT_FOUND": "no card holder with this ID number is in the registry",
    "TYPE_INVALID": "type is not enterprise_retiree, resident or civil_servant",
    "AMOUNT_INVALID": "an amount is not a whole number of fen (monthly pension above 0)",
    "REGION_INVALID": "the region is not 6 digits",
    "BANK_ACCOUNT_INVALID": "the bank account is not 12-30 digits",
    "DATE_INVALID": "certified_until is not a YYYY-MM-DD date",
    "DUPLICATE_ID_IN_FILE": "an earlier row of this file has the same ID number",
}
BATCH_SIZE = 1000
_DIGITS = re.compile(r"^\d+$")


class ImportAborted(Exception):
    """The file cannot be imported at all (missing, unreadable, bad header)."""


@dataclass
class RecipientSummary:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects_path: str = ""
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class _Row:
    line: int
    fields: list[str]
    id_index: str
    values: dict[str, Any]
    row_hash: str


class _Rejected(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _amount(text: str, *, positive: bool = False) -> int:
    if not _DIGITS.match(text) or len(text) > 15 or (positive and int(text) == 0):
        raise _Rejected("AMOUNT_INVALID")
    return int(text)


def _parse(idx: Mapping[str, int], fields: list[str], today: date) -> tuple[str, dict[str, Any]]:
    get = {k: fields[i].strip() for k, i in idx.items()}
    try:
        number = parse_id_number(get["aac002"], today=today).number
    except IdentifierError as exc:
        raise _Rejected("ID_INVALID") from exc
    if get["type"] not in RECIPIENT_TYPES:
        raise _Rejected("TYPE_INVALID")
    values: dict[str, Any] = {
        "type": get["type"],
        "monthly_pension_fen": _amount(get["monthly_pension_fen"], positive=True),
        "funeral_grant_fen": _amount(get["funeral_grant_fen"]),
        "survivor_lump_sum_fen": _amount(get["survivor_lump_sum_fen"])}
    if not (len(get["region"]) == 6 and get["region"].isdigit()):
        raise _Rejected("REGION_INVALID")
    values["region"] = get["region"]
    if not (12 <= len(get["bank_account"]) <= 30 and get["bank_account"].isdigit()):
        raise _Rejected("BANK_ACCOUNT_INVALID")
    values["bank_account"] = get["bank_account"]
    until = get.get("certified_until") or ""
    try:
        values["certified_until"] = date.fromisoformat(until) if until else None
    except ValueError as exc:
        raise _Rejected("DATE_INVALID") from exc
    return number, values


class RecipientImporter:
    def __init__(self, db: Database, protector: DataProtector, clock: Clock, actor: Actor,
                 *, today: date, region_periods: Mapping[str, int],
                 batch_size: int = BATCH_SIZE,
                 progress: Callable[[int], None] | None = None) -> None:
        self.db, self.protector, self.clock, self.actor = db, protector, clock, actor
        self.today, self.region_periods = today, region_periods
        self.batch_size, self.progress = batch_size, progress

    def run(self, path: Path, rejects_path: Path | None = None) -> RecipientSummary:
        rejects_path = rejects_path or path.with_name(path.name + ".rejects.csv")
        summary = RecipientSummary(rejects_path=str(rejects_path))
        try:
            fh = path.open("r", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ImportAborted(f"cannot read {path}: {exc.strerror or exc}") from exc
        with fh, rejects_path.open("w", encoding="utf-8", newline="") as out, \
                self.db.engine.connect() as conn:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except (StopIteration, csv.Error, UnicodeDecodeError) as exc:
                raise ImportAborted(f"{path}: no readable header row") from exc
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ImportAborted(f"{path}: missing columns {', '.join(missing)}")
            idx = {c: header.index(c) for c in (*COLUMNS, *OPTIONAL) if c in header}
            rejects = csv.writer(out)
            rejects.writerow([*header, "line", "reason_code", "reason"])
            seen = SeenKeys(conn, "recipient_import_seen", key_length=64)

            def reject(line: int, fields: list[str], code: str) -> None:
                fields, reason = fit_to_header(fields, len(header), REASONS[code])
                rejects.writerow([*fields, line, code, reason])
                summary.rejected += 1
                summary.reasons[code] += 1

            batch: list[tuple[int, list[str]]] = []
            try:
                for fields in reader:
                    if not any(f.strip() for f in fields):
                        continue
                    summary.read += 1
                    batch.append((reader.line_num, fields))
                    if len(batch) >= self.batch_size:
                        self._batch(conn, seen, idx, len(header), batch, reject, summary)
                        batch = []
                if batch:
                    self._batch(conn, seen, idx, len(header), batch, reject, summary)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportAborted(f"{path}: unreadable at line {reader.line_num}: "
                                    f"{exc}") from exc
            finally:
                seen.drop()
            with conn.begin():
                session = Session(bind=conn)
                AuditLog(session, self.clock).record(
                    self.actor, "certification.recipients_imported",
                    details={"file": path.name, "read": summary.read,
                             "inserted": summary.inserted, "updated": summary.updated,
                             "unchanged": summary.unchanged, "rejected": summary.rejected,
                             "reasons": dict(summary.reasons)})
                session.flush()
        return summary

    def _batch(self, conn: Any, seen: SeenKeys, idx: Mapping[str, int], width: int,
               batch: list[tuple[int, list[str]]], reject: Callable[[int, list[str], str], None],
               summary: RecipientSummary) -> None:
        with conn.begin():
            rows: list[_Row] = []
            for line, fields in batch:
                if len(fields) != width:
                    reject(line, fields, "COLUMN_COUNT")
                    continue
                try:
                    number, values = _parse(idx, fields, self.today)
                except _Rejected as exc:
                    reject(line, fields, exc.code)
                    continue
                canonical = "\x1f".join(f"{k}={values[k]}" for k in sorted(values))
                rows.append(_Row(line, fields, self.protector.blind_index(number), values,
                                 self.protector.blind_index(f"{number}\x1f{canonical}",
                                                            purpose="recipient_row")))
            keys = [r.id_index for r in rows]
            claimed = seen.lines(keys)
            fresh: list[_Row] = []
            for r in rows:
                if r.id_index in claimed:
                    reject(r.line, r.fields, "DUPLICATE_ID_IN_FILE")
                    continue
                claimed[r.id_index] = r.line
                fresh.append(r)
            seen.add((r.id_index, r.line) for r in fresh)
            session = Session(bind=conn, autoflush=False)
            persons = dict(session.execute(select(Person.id_index, Person.id).where(
                Person.id_index.in_([r.id_index for r in fresh]))).all()) \
                if fresh else {}
            existing = {b.person_id: b for b in session.scalars(select(BenefitRecipient).where(
                BenefitRecipient.person_id.in_(list(persons.values()))))} if persons else {}
            now = self.clock.now()
            for r in fresh:
                pid = persons.get(r.id_index)
                if pid is None:
                    reject(r.line, r.fields, "PERSON_NOT_FOUND")
                    continue
                self._apply(session, pid, existing.get(pid), r, now, summary)
            session.flush()
        if self.progress is not None:
            self.progress(summary.read)

    def _apply(self, session: Session, person_id: int, current: BenefitRecipient | None,
               r: _Row, now: Any, summary: RecipientSummary) -> None:
        v = r.values
        if current is not None and current.row_hash == r.row_hash:
            summary.unchanged += 1
            return
        period = period_months(v["type"], v["monthly_pension_fen"], v["funeral_grant_fen"],
                               v["survivor_lump_sum_fen"], v["region"], self.region_periods)
        account = self.protector.encrypt_str(v["bank_account"], "recipient.bank_account")
        if current is None:
            until = v["certified_until"] or add_months(self.today, period)
            current = BenefitRecipient(
                person_id=person_id, certified_until=until,
                status=status_on(until, self.today), backpay_due=False, backpay_months=0,
                last_certified_at=None, died_on=None, created_at=now)
            session.add(current)
            summary.inserted += 1
        else:
            if v["certified_until"]:
                current.certified_until = v["certified_until"]
            if current.status != "stopped":
                current.status = status_on(current.certified_until, self.today)
            summary.updated += 1
        current.type, current.region = v["type"], v["region"]
        current.monthly_pension_fen = v["monthly_pension_fen"]
        current.funeral_grant_fen = v["funeral_grant_fen"]
        current.survivor_lump_sum_fen = v["survivor_lump_sum_fen"]
        current.bank_account_enc, current.period_months = account, period
        current.row_hash, current.updated_at = r.row_hash, now
