"""Appending to and verifying the hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing or
deleting any row breaks every hash after it; the anchor row catches deleting the tail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecard.audit.models import AuditAnchor, AuditEntry
from ecard.clock import Clock, SystemClock

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who acted: ``operator`` (CLI user), ``channel`` (API caller), ``holder`` (the
    person through a channel), or ``system`` (worker, batch)."""

    type: str
    id: str

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "ecard")


def _entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor_type": entry.actor_type,
        "actor_id": entry.actor_id,
        "subject": entry.subject,
        "channel_no": entry.channel_no,
        "scene": entry.scene,
        "action": entry.action,
        "details": entry.details,
    }


class AuditLog:
    def __init__(self, session: Session, clock: Clock | None = None) -> None:
        self.session = session
        self.clock = clock or SystemClock()

    def record(self, actor: Actor, action: str, *, subject: str | None = None,
               channel_no: str | None = None, scene: str | None = None,
               details: dict[str, Any] | None = None) -> AuditEntry:
        """Append one entry inside the caller's transaction.

        The first statement bumps the anchor's sequence: on PostgreSQL that UPDATE
        locks the anchor row, on SQLite it takes the database's write lock, so the
        head read next is the head, and concurrent writers queue instead of forking
        the chain. The primary key on ``seq`` remains the backstop.
        """
        bumped = self.session.execute(
            update(AuditAnchor).where(AuditAnchor.id == 1)
            .values(last_seq=AuditAnchor.last_seq + 1))
        if bumped.rowcount == 0:  # type: ignore[attr-defined]  # an empty log: the anchor is created with entry 1
            anchor = AuditAnchor(id=1, last_seq=1, last_hash=GENESIS)
            self.session.add(anchor)
            self.session.flush()
        else:
            anchor = self.session.execute(
                select(AuditAnchor).where(AuditAnchor.id == 1)
                .execution_options(populate_existing=True)).scalar_one()
        seq, prev_hash = anchor.last_seq, anchor.last_hash
        entry = AuditEntry(
            seq=seq, at=self.clock.now(), actor_type=actor.type, actor_id=actor.id,
            subject=subject, channel_no=channel_no, scene=scene, action=action,
            details=details or {}, prev_hash=prev_hash, hash="",
        )
        entry.hash = _entry_hash(prev_hash, _fields(entry))
        anchor.last_hash = entry.hash
        self.session.add(entry)
        self.session.flush()
        return entry


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries: int
    problems: list[str]


def verify_chain(session: Session, *, batch: int = 5000) -> VerifyReport:
    """Walk the whole chain in ``seq`` order, streaming, and list every break."""
    problems: list[str] = []
    expected_seq, prev_hash, count = 1, GENESIS, 0
    last_seq = 0
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    for entry in session.scalars(stmt):
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing (deleted)")
        if entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.seq}: does not follow the entry before it")
        if _entry_hash(entry.prev_hash, _fields(entry)) != entry.hash:
            problems.append(f"entry {entry.seq}: content was changed after it was written")
        expected_seq, prev_hash, last_seq = entry.seq + 1, entry.hash, entry.seq
    anchor = session.get(AuditAnchor, 1)
    if anchor is not None:
        if anchor.last_seq != last_seq or anchor.last_hash != prev_hash:
            problems.append(
                f"the log ends at entry {last_seq} but its anchor says {anchor.last_seq}: "
                "the newest entries were deleted or the anchor was changed")
    elif count:
        problems.append("entries exist but the anchor row is missing")
    return VerifyReport(ok=not problems, entries=count, problems=problems)
