"""Streaming, batched, idempotent import of the physical-card registry.

The file is read row by row and never held whole. Rows are validated, then handled
in batches of ``batch_size`` (fewer when they carry photos), one transaction per
batch: one set-based ``SELECT`` finds the batch's existing persons by blind index
and its known cards, and new and changed rows are written with ``executemany``.

Each person row stores a keyed hash of its normalised content (photo bytes
included); a row whose hash is unchanged is not touched, so a re-run changes nothing.
The hash is an HMAC under the blind-index key rather than a bare SHA-256, because a
bare hash of an ID number and a name could be reversed by guessing.

Repeated ID or card numbers are found across batches through a temporary table on
the import's own connection, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.clock import Clock
from ecard.csvimport import SeenKeys, fit_to_header
from ecard.db import Database
from ecard.faces.interfaces import MODEL_NAME, FaceEngine
from ecard.protect import DataProtector, mask_id_number, mask_name
from ecard.registry.csvformat import (
    REASONS,
    REJECT_EXTRA_COLUMNS,
    Header,
    HeaderError,
    RegistryRow,
    RowRejected,
    parse_header,
    parse_row,
)
from ecard.registry.models import FaceTemplate, Person, PhysicalCard
from ecard.registry.photos import Photo, PhotoFolder, face_template
from ecard.registry.services import set_card_status, transition_allowed

BATCH_SIZE = 2000
MAX_BATCH_SIZE = 10_000  # keeps every IN (...) under SQLite's parameter limit
PHOTOS_PER_BATCH = 50  # photos are held in memory until their batch commits
EXAMPLES = 10

ProgressFn = Callable[[int, int], None]  # (bytes read, rows read)

P: Table = Person.__table__  # type: ignore[assignment]
C: Table = PhysicalCard.__table__  # type: ignore[assignment]
F: Table = FaceTemplate.__table__  # type: ignore[assignment]


class ImportAborted(Exception):
    """The file cannot be imported at all: missing, unreadable, or a bad header."""


@dataclass
class ImportSummary:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    photos_enrolled: int = 0
    status_changes: int = 0
    elapsed_s: float = 0.0
    rejects_path: str = ""
    reasons: Counter[str] = field(default_factory=Counter)
    # (line, reason code, masked ID number) of the first rejects, for the console
    examples: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def counts(self) -> dict[str, Any]:
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected,
                "photos_enrolled": self.photos_enrolled,
                "status_changes": self.status_changes}


@dataclass(slots=True)
class _Prepared:
    row: RegistryRow
    id_index: str
    row_hash: str
    photo_sha: str
    person_id: int | None = None
    template: bytes | None = None
    photo: Photo | None = None


def _records(reader: Any) -> Iterator[tuple[int, list[str] | None]]:
    """(first line number, fields) per record; fields None when the CSV breaks."""
    prev = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield prev + 1, None
            prev = reader.line_num
            continue
        line, prev = prev + 1, reader.line_num
        if fields and any(f.strip() for f in fields):
            yield line, fields


class RegistryImporter:
    def __init__(self, db: Database, protector: DataProtector, clock: Clock,
                 faces: FaceEngine, actor: Actor, *, batch_size: int = BATCH_SIZE,
                 max_image_bytes: int = 5 * 1024 * 1024,
                 progress: ProgressFn | None = None) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH_SIZE}")
        self.db, self.protector, self.clock = db, protector, clock
        self.faces, self.actor = faces, actor
        self.batch_size, self.max_image_bytes = batch_size, max_image_bytes
        self.progress = progress

    def run(self, csv_path: Path, *, photos_dir: Path | None = None,
            rejects_path: Path | None = None) -> ImportSummary:
        started = time.perf_counter()
        rejects_path = rejects_path or csv_path.with_name(csv_path.name + ".rejects.csv")
        try:
            fh = csv_path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")
        except OSError as exc:
            raise ImportAborted(f"cannot read {csv_path}: {exc.strerror or exc}") from exc
        with fh:
            reader = csv.reader(fh)
            try:
                header = parse_header(next(reader))
            except StopIteration as exc:
                raise ImportAborted(f"{csv_path} is empty: it needs a header row") from exc
            except (csv.Error, HeaderError) as exc:
                raise ImportAborted(f"{csv_path}: bad header: {exc}") from exc
            try:
                out = rejects_path.open("w", encoding="utf-8", errors="surrogateescape",
                                        newline="")
            except OSError as exc:
                raise ImportAborted(f"cannot write the rejects file {rejects_path}: "
                                    f"{exc.strerror or exc}") from exc
            summary = ImportSummary(rejects_path=str(rejects_path))
            with out, self.db.engine.connect() as conn:
                run = _Run(self, conn, header, PhotoFolder(photos_dir or csv_path.parent,
                                                           self.max_image_bytes),
                           csv.writer(out), summary)
                run.rejects.writerow([*header.names, *REJECT_EXTRA_COLUMNS])
                try:
                    self._stream(fh, reader, header, run)
                finally:
                    run.seen.drop()
                summary.elapsed_s = time.perf_counter() - started
                with conn.begin():
                    session = Session(bind=conn)
                    AuditLog(session, self.clock).record(
                        self.actor, "registry.imported",
                        details={"file": csv_path.name, **summary.counts(),
                                 "reasons": dict(summary.reasons)})
                    session.flush()
        return summary

    def _stream(self, fh: IO[str], reader: Any, header: Header, run: _Run) -> None:
        photo_pos = header.index.get("photo")
        batch: list[tuple[int, list[str] | None]] = []
        photos = 0
        for line, fields in _records(reader):
            run.summary.read += 1
            batch.append((line, fields))
            if photo_pos is not None and fields and len(fields) > photo_pos \
                    and fields[photo_pos].strip():
                photos += 1
            if len(batch) >= self.batch_size or photos >= PHOTOS_PER_BATCH:
                run.process(batch)
                batch, photos = [], 0
                self._report(fh, run.summary.read)
        if batch:
            run.process(batch)
        self._report(fh, run.summary.read)

    def _report(self, fh: IO[str], rows: int) -> None:
        if self.progress is not None:
            self.progress(fh.buffer.tell(), rows)  # type: ignore[attr-defined]


class _Run:
    """The state of one import: connection, rejects writer, counters, seen keys."""

    def __init__(self, importer: RegistryImporter, conn: Connection, header: Header,
                 photos: PhotoFolder, rejects: Any, summary: ImportSummary) -> None:
        self.imp, self.conn, self.header = importer, conn, header
        self.photos, self.rejects, self.summary = photos, rejects, summary
        self.seen = SeenKeys(conn, "registry_import_seen")

    # -- rejects -------------------------------------------------------------
    def reject(self, line: int, fields: list[str] | None, code: str, message: str) -> None:
        fields, message = fit_to_header(list(fields or []), len(self.header.names), message)
        self.rejects.writerow([*fields, line, code, message])
        self.summary.rejected += 1
        self.summary.reasons[code] += 1
        if len(self.summary.examples) < EXAMPLES:
            pos = self.header.index["aac002"]
            raw = fields[pos].strip() if pos < len(fields) else ""
            self.summary.examples.append((line, code, mask_id_number(raw) if raw else ""))

    # -- one batch -----------------------------------------------------------
    def process(self, batch: list[tuple[int, list[str] | None]]) -> None:
        with self.conn.begin():
            prepared = self._validate(batch)
            prepared = self._dedupe(prepared)
            self._apply(prepared)

    def _validate(self, batch: list[tuple[int, list[str] | None]]) -> list[_Prepared]:
        imp = self.imp
        today = imp.clock.now().date()
        out: list[_Prepared] = []
        for line, fields in batch:
            if fields is None:
                self.reject(line, None, "ROW_UNREADABLE", REASONS["ROW_UNREADABLE"])
                continue
            try:
                row = parse_row(self.header, fields, line, today=today)
                photo_sha = self.photos.read(row.photo).sha256 if row.photo else ""
            except RowRejected as exc:
                self.reject(line, fields, exc.code, exc.message)
                continue
            id_index = imp.protector.blind_index(row.citizen.number)
            row_hash = imp.protector.blind_index(f"{row.canonical()}\x1f{photo_sha}",
                                                 purpose="registry_row")
            out.append(_Prepared(row, id_index, row_hash, photo_sha))
        return out

    def _dedupe(self, rows: list[_Prepared]) -> list[_Prepared]:
        def keys(p: _Prepared) -> list[str]:
            ks = ["I" + p.id_index, "C" + p.row.card_no]
            return [*ks, "C" + p.row.replaced_by] if p.row.replaced_by else ks

        wanted = {k for p in rows for k in keys(p)}
        claimed = self.seen.lines(wanted)
        new_claims: list[tuple[str, int]] = []
        kept: list[_Prepared] = []
        for p in rows:
            dup = next((k for k in keys(p) if k in claimed), None)
            if dup is not None:
                code = "DUPLICATE_ID_IN_FILE" if dup[0] == "I" else "DUPLICATE_CARD_IN_FILE"
                what = "ID number" if dup[0] == "I" else f"card number {dup[1:]}"
                self.reject(p.row.line, p.row.fields, code,
                            f"line {claimed[dup]} of this file already has this {what}")
                continue
            for k in keys(p):
                claimed[k] = p.row.line
                new_claims.append((k, p.row.line))
            kept.append(p)
        self.seen.add(new_claims)
        return kept

    def _apply(self, rows: list[_Prepared]) -> None:
        if not rows:
            return
        conn = self.conn
        persons = {r.id_index: (r.id, r.row_hash) for r in conn.execute(
            select(P.c.id, P.c.id_index, P.c.row_hash)
            .where(P.c.id_index.in_([p.id_index for p in rows])))}
        card_nos = {p.row.card_no for p in rows} | {p.row.replaced_by for p in rows
                                                     if p.row.replaced_by}
        cards = {r.card_no: r for r in conn.execute(
            select(C.c.id, C.c.card_no, C.c.person_id, C.c.status, C.c.replaced_by)
            .where(C.c.card_no.in_(card_nos)))}
        new: list[_Prepared] = []
        changed: list[_Prepared] = []
        for p in rows:
            found = persons.get(p.id_index)
            if found is not None and found[1] == p.row_hash:
                self.summary.unchanged += 1
                continue
            p.person_id = found[0] if found else None
            problem = _card_problem(p, cards)
            if problem:
                self.reject(p.row.line, p.row.fields, *problem)
                continue
            (changed if found else new).append(p)
        self._enrol_photos(new, changed)
        new = [p for p in new if not p.photo_sha or p.template is not None]
        changed = [p for p in changed if p.photo_sha != "-"]
        if new:
            self._insert(new)
        if changed:
            self._update(changed, cards)

    def _enrol_photos(self, new: list[_Prepared], changed: list[_Prepared]) -> None:
        """Encode the photos of new rows and of changed rows whose photo changed; a
        row whose photo is unusable is rejected (its ``photo_sha`` becomes ``-``)."""
        current: dict[int, str] = {}
        ids = [p.person_id for p in changed if p.photo_sha and p.person_id is not None]
        if ids:
            current = {pid: sha for pid, sha in self.conn.execute(
                select(F.c.person_id, F.c.photo_sha256).where(F.c.person_id.in_(ids)))}
        for p in [*new, *changed]:
            if not p.photo_sha or (p.person_id is not None
                                   and current.get(p.person_id) == p.photo_sha):
                continue
            try:
                photo = self.photos.read(p.row.photo)
                p.template = face_template(self.imp.faces, photo, self.imp.max_image_bytes)
                p.photo = photo
            except RowRejected as exc:
                self.reject(p.row.line, p.row.fields, exc.code, exc.message)
                p.photo_sha = "-"

    def _person_fields(self, p: _Prepared, now: Any) -> dict[str, Any]:
        enc = self.imp.protector.encrypt_str
        return {"name_enc": enc(p.row.name, "person.name"), "name_masked": mask_name(p.row.name),
                "region": p.row.region, "row_hash": p.row_hash, "updated_at": now}

    def _card_fields(self, p: _Prepared, now: Any) -> dict[str, Any]:
        enc = self.imp.protector.encrypt_str
        r = p.row
        return {
            "region": r.region, "generation": r.generation, "bank_code": r.bank_code or None,
            "bank_account_enc": enc(r.bank_account, "card.bank_account")
            if r.bank_account else None,
            "reserved_phone_enc": enc(r.phone, "card.reserved_phone") if r.phone else None,
            "updated_at": now,
        }

    def _template_fields(self, p: _Prepared, now: Any) -> dict[str, Any]:
        assert p.template is not None and p.photo is not None
        enc = self.imp.protector.encrypt
        return {"person_id": p.person_id,
                "template_enc": enc(p.template, "face_template.template"),
                "photo_enc": enc(p.photo.data, "face_template.photo"),
                "photo_sha256": p.photo.sha256, "model": MODEL_NAME, "updated_at": now}

    def _insert(self, rows: list[_Prepared]) -> None:
        now = self.imp.clock.now()
        enc = self.imp.protector.encrypt_str
        person_rows = []
        for p in rows:
            c = p.row.citizen
            person_rows.append({
                "id_index": p.id_index, "id_number_enc": enc(c.number, "person.id_number"),
                "id_masked": mask_id_number(c.number), "gender": c.gender,
                "birth_date": c.birth_date, "created_at": now, **self._person_fields(p, now)})
        # RETURNING without sort_by_parameter_order: SQLAlchemy then sends one
        # multi-row INSERT per 1000 rows instead of one statement per row.
        ids = dict(tuple(r) for r in self.conn.execute(
            insert(P).returning(P.c.id_index, P.c.id), person_rows))
        card_rows = []
        for p in rows:
            p.person_id = pid = ids[p.id_index]
            details = self._card_fields(p, now)
            card_rows.append({"card_no": p.row.card_no, "person_id": pid,
                              "status": p.row.status, "replaced_by": p.row.replaced_by or None,
                              **details})
            if p.row.replaced_by:
                card_rows.append({"card_no": p.row.replaced_by, "person_id": pid,
                                  "status": "active", "replaced_by": None, **details})
        self.conn.execute(insert(C), card_rows)
        templates = [self._template_fields(p, now) for p in rows if p.template is not None]
        if templates:
            self.conn.execute(insert(F), templates)
        self.summary.inserted += len(rows)
        self.summary.photos_enrolled += len(templates)

    def _update(self, rows: list[_Prepared], cards: dict[str, Any]) -> None:
        imp, conn = self.imp, self.conn
        now = imp.clock.now()
        conn.execute(update(P).where(P.c.id == _b("pid")),
                     [{"pid": p.person_id, **self._person_fields(p, now)} for p in rows])
        known = [p for p in rows if p.row.card_no in cards]
        if known:
            conn.execute(update(C).where(C.c.card_no == _b("cno")),
                         [{"cno": p.row.card_no, **self._card_fields(p, now)} for p in known])
        session = Session(bind=conn, autoflush=False)
        for p in rows:
            card = cards.get(p.row.card_no)
            if card is None:
                self._switch_card(session, p, now)
            elif card.status != p.row.status:
                set_card_status(session, imp.clock, imp.actor, p.row.card_no, p.row.status,
                                p.row.replaced_by or None)
                self.summary.status_changes += 1
        session.flush()
        templates = [self._template_fields(p, now) for p in rows if p.template is not None]
        if templates:
            have = set(conn.execute(select(F.c.person_id).where(
                F.c.person_id.in_([t["person_id"] for t in templates]))).scalars())
            fresh = [t for t in templates if t["person_id"] not in have]
            again = [{**t, "pid": t["person_id"]} for t in templates if t["person_id"] in have]
            if fresh:
                conn.execute(insert(F), fresh)
            if again:
                conn.execute(update(F).where(F.c.person_id == _b("pid")), again)
        self.summary.updated += len(rows)
        self.summary.photos_enrolled += len(templates)

    def _switch_card(self, session: Session, p: _Prepared, now: Any) -> None:
        """An existing person's row names a card the registry does not know: the new
        card replaces the person's live cards (their e-cards rebind to it)."""
        imp = self.imp
        live = session.scalars(select(PhysicalCard).where(
            PhysicalCard.person_id == p.person_id,
            PhysicalCard.status.in_(("active", "lost"))).order_by(PhysicalCard.id)).all()
        for old in live:
            set_card_status(session, imp.clock, imp.actor, old.card_no, "replaced",
                            p.row.card_no)
            self.summary.status_changes += 1
        card = session.scalars(select(PhysicalCard).where(
            PhysicalCard.card_no == p.row.card_no)).one_or_none()
        if card is None:
            assert p.person_id is not None
            card = PhysicalCard(card_no=p.row.card_no, person_id=p.person_id, status="active")
            session.add(card)
        for key, value in self._card_fields(p, now).items():
            setattr(card, key, value)
        session.flush()
        if p.row.status != "active":
            set_card_status(session, imp.clock, imp.actor, p.row.card_no, p.row.status,
                            p.row.replaced_by or None)
            self.summary.status_changes += 1


def _b(name: str) -> Any:
    return bindparam(name)


def _card_problem(p: _Prepared, cards: dict[str, Any]) -> tuple[str, str] | None:
    """Why the row's cards cannot be applied to the registry as it is, if they cannot."""
    row, pid = p.row, p.person_id
    card = cards.get(row.card_no)
    if card is not None and card.person_id != pid:
        return "CARD_OWNED_BY_OTHER", "the card number belongs to another person"
    if card is not None and card.status != row.status \
            and not transition_allowed(card.status, row.status):
        return ("STATUS_TRANSITION_INVALID",
                f"the card is {card.status} and cannot become {row.status}")
    if card is not None and card.status == row.status == "replaced" \
            and (card.replaced_by or "") != row.replaced_by:
        return ("STATUS_TRANSITION_INVALID",
                "the card was already replaced by another card; a replacement is final")
    if row.replaced_by and not (card is not None and card.status == "replaced"):
        succ = cards.get(row.replaced_by)
        if succ is not None and (succ.person_id != pid or succ.status != "active"):
            return ("REPLACEMENT_CARD_INVALID",
                    "the replacement card belongs to another person or is not active")
    return None
