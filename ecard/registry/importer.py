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
Writing a batch (insert, update, card changes, face templates) is in ``writes.py``.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.clock import Clock
from ecard.csvimport import SeenKeys, fit_to_header
from ecard.db import Database
from ecard.faces.interfaces import FaceEngine
from ecard.protect import DataProtector, mask_id_number
from ecard.registry.csvformat import (
    REASONS,
    REJECT_EXTRA_COLUMNS,
    Header,
    HeaderError,
    RowRejected,
    parse_header,
    parse_row,
)
from ecard.registry.photos import PhotoFolder
from ecard.registry.writes import ImportSummary, Prepared, RegistryWriter

BATCH_SIZE = 2000
MAX_BATCH_SIZE = 10_000  # keeps every IN (...) under SQLite's parameter limit
PHOTOS_PER_BATCH = 50  # photos are held in memory until their batch commits
EXAMPLES = 10

__all__ = ["BATCH_SIZE", "MAX_BATCH_SIZE", "ImportAborted", "ImportSummary", "ProgressFn",
           "RegistryImporter"]

ProgressFn = Callable[[int, int], None]  # (bytes read, rows read)

class ImportAborted(Exception):
    """The file cannot be imported at all: missing, unreadable, or a bad header."""


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
        self.writer = RegistryWriter(conn, importer.protector, importer.clock, importer.actor,
                                     importer.faces, importer.max_image_bytes, photos,
                                     summary, self.reject)

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
            self.writer.apply(prepared)

    def _validate(self, batch: list[tuple[int, list[str] | None]]) -> list[Prepared]:
        imp = self.imp
        today = imp.clock.now().date()
        out: list[Prepared] = []
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
            out.append(Prepared(row, id_index, row_hash, photo_sha))
        return out

    def _dedupe(self, rows: list[Prepared]) -> list[Prepared]:
        def keys(p: Prepared) -> list[str]:
            ks = ["I" + p.id_index, "C" + p.row.card_no]
            return [*ks, "C" + p.row.replaced_by] if p.row.replaced_by else ks

        wanted = {k for p in rows for k in keys(p)}
        claimed = self.seen.lines(wanted)
        new_claims: list[tuple[str, int]] = []
        kept: list[Prepared] = []
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
