"""``ecard worker``: delivers the outbox, signed, at least once, in order per e-card.

Claiming. A worker claims a batch by writing a lease (``lease_owner``, a token unique
to this claim, and ``lease_until``) and numbering the attempt (``attempts + 1``) in
one short transaction, then POSTs with no transaction open, then records the
outcomes guarded by its lease token. On PostgreSQL the claim selects with
``FOR UPDATE SKIP LOCKED`` so concurrent workers pass over each other's rows instead
of queueing; SQLite has no SKIP LOCKED, so the claim is a single ``UPDATE … WHERE id
IN (candidates)`` that re-checks ``lease_until`` under SQLite's one write lock. A
worker that dies leaves its lease to expire (``lease_s``); the notification is then
tried again with the next attempt number (at least once, never twice per attempt).

Order. A notification is a candidate only when no older notification of the same
stream — same channel and e-card (``sign_no``), or the channel's notifications with
no e-card — is undelivered. So at most one notification per stream is in flight, a
failure (pending, backing off) holds the later ones of its e-card and no others, and
a dead-lettered one holds them until an operator redelivers it.

Channels without a ``callback_url`` are left out of claiming: their notifications
stay pending, use no attempts, and flow once a URL is registered.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from ecard.channels.models import Channel
from ecard.clock import Clock
from ecard.db import Database
from ecard.notifications.interfaces import CallbackTransport, DeliveryResult
from ecard.notifications.models import Notification
from ecard.notifications.retry import RetrySchedule
from ecard.notifications.signing import sign_callback
from ecard.notifications.transport import MAX_ERROR_CHARS, RequestsTransport
from ecard.tokens.services import KeyRing

log = logging.getLogger(__name__)

CONNECT_ERROR_PREFIX = "connection error:"


@dataclass(frozen=True)
class Job:
    note: Notification
    url: str
    attempt: int
    lease: str


@dataclass
class WorkerStats:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    batches: int = 0

    def add(self, other: WorkerStats) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.failed += other.failed
        self.dead += other.dead
        self.batches += other.batches

    def line(self) -> str:
        return (f"{self.claimed} attempted, {self.delivered} delivered, {self.failed} failed"
                f" (retry later), {self.dead} dead-lettered in {self.batches} batches")


class CallbackWorker:
    def __init__(self, db: Database, keyring: KeyRing, clock: Clock,
                 transport: CallbackTransport, *, schedule: RetrySchedule | None = None,
                 batch_size: int = 100, concurrency: int = 8, lease_s: float = 300.0,
                 name: str | None = None) -> None:
        self.db = db
        self.keyring = keyring
        self.clock = clock
        self.transport = transport
        self.schedule = schedule or RetrySchedule()
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)
        self.lease_s = lease_s
        self.name = name or f"w-{uuid.uuid4().hex[:8]}"
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_config(cls, platform: Any, transport: CallbackTransport | None = None,
                    **overrides: Any) -> CallbackWorker:
        cfg = platform.config
        connect_s = float(cfg.get("CALLBACK_CONNECT_TIMEOUT_S", 3.0))
        read_s = float(cfg.get("CALLBACK_READ_TIMEOUT_S", 10.0))
        batch = int(overrides.pop("batch_size", cfg.get("CALLBACK_BATCH_SIZE", 100)))
        conc = int(overrides.pop("concurrency", cfg.get("CALLBACK_CONCURRENCY", 8)))
        # A lease outlives the slowest possible batch, so a live worker keeps its claim.
        slowest = math.ceil(batch / max(1, conc)) * (connect_s + read_s) + 30
        lease = max(float(cfg.get("CALLBACK_LEASE_S", 300.0)), slowest)
        schedule = overrides.pop("schedule", None) or RetrySchedule(
            int(cfg.get("CALLBACK_MAX_ATTEMPTS", 30)))
        return cls(platform.db, platform.keyring, platform.clock,
                   transport or RequestsTransport(connect_s, read_s), schedule=schedule,
                   batch_size=batch, concurrency=conc, lease_s=lease, **overrides)

    # --- claiming -------------------------------------------------------------------
    def _candidates(self, now: datetime) -> Select[Any]:
        cand = aliased(Notification)
        older = aliased(Notification)
        undelivered_before = select(literal(1)).where(
            older.channel_no == cand.channel_no,
            older.sign_no.is_not_distinct_from(cand.sign_no),
            older.id < cand.id, older.status != "delivered").exists()
        with_url = select(Channel.channel_no).where(Channel.callback_url.is_not(None))
        return (select(cand.id)
                .where(cand.status == "pending", cand.next_attempt_at <= now,
                       or_(cand.lease_until.is_(None), cand.lease_until < now),
                       cand.channel_no.in_(with_url), ~undelivered_before)
                .order_by(cand.id).limit(self.batch_size))

    def claim(self) -> list[Job]:
        lease = f"{self.name}:{uuid.uuid4().hex[:12]}"
        with self.db.transaction() as session:
            now = self.clock.now()
            until = now + timedelta(seconds=self.lease_s)
            take = update(Notification).values(lease_owner=lease, lease_until=until,
                                               attempts=Notification.attempts + 1)
            if self.db.dialect == "postgresql":
                ids = list(session.scalars(self._candidates(now).with_for_update(
                    skip_locked=True)))
                if not ids:
                    return []
                session.execute(take.where(Notification.id.in_(ids)))
            else:
                # The UPDATE is the unit of work's first statement: it takes SQLite's
                # write lock before the candidates are read, so two claims serialise.
                session.execute(take.where(Notification.id.in_(self._candidates(now))))
            rows = session.execute(
                select(Notification, Channel.callback_url)
                .join(Channel, Channel.channel_no == Notification.channel_no)
                .where(Notification.lease_owner == lease).order_by(Notification.id)).all()
            return [Job(note, str(url), note.attempts, lease) for note, url in rows]

    # --- delivering -----------------------------------------------------------------
    def _send(self, job: Job) -> DeliveryResult:
        try:
            signed = sign_callback(self.keyring, job.note, job.attempt,
                                   int(self.clock.now().timestamp()))
            return self.transport.post(job.url, signed.body, signed.headers)
        except Exception as exc:  # a bug or a key problem must not kill the batch
            log.exception("callback %s could not be sent", job.note.id)
            return DeliveryResult(False, None, f"send error: {type(exc).__name__}")

    def deliver(self, jobs: Sequence[Job]) -> list[DeliveryResult]:
        if len(jobs) <= 1 or self.concurrency == 1:
            return [self._send(job) for job in jobs]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="callback")
        return list(self._pool.map(self._send, jobs))

    # --- recording ------------------------------------------------------------------
    def record(self, jobs: Sequence[Job], results: Sequence[DeliveryResult]) -> WorkerStats:
        stats = WorkerStats(claimed=len(jobs), batches=1)
        with self.db.transaction() as session:
            now = self.clock.now()
            ok = [job for job, res in zip(jobs, results, strict=True) if res.ok]
            for job in ok:
                session.execute(self._mine(job).values(
                    status="delivered", delivered_at=now, lease_owner=None, lease_until=None))
            stats.delivered = len(ok)
            for job, res in zip(jobs, results, strict=True):
                if not res.ok:
                    stats.dead += self._record_failure(session, job, res, now)
            stats.failed = len(jobs) - stats.delivered - stats.dead
            self._wake(session, {job.note.channel_no for job in ok}, now)
        return stats

    def _mine(self, job: Job) -> Any:
        return update(Notification).where(Notification.id == job.note.id,
                                          Notification.lease_owner == job.lease)

    def _record_failure(self, session: Session, job: Job, res: DeliveryResult,
                        now: datetime) -> int:
        error = (res.error or "failed")[:MAX_ERROR_CHARS]
        failures = job.attempt - job.note.attempts_at_reset
        if self.schedule.exhausted(failures):
            session.execute(self._mine(job).values(
                status="dead", last_error=error, lease_owner=None, lease_until=None))
            log.warning("callback %s (%s, channel %s) dead after attempt %s: %s",
                        job.note.id, job.note.event, job.note.channel_no, job.attempt, error)
            return 1
        delay = self.schedule.delay_s(failures)
        session.execute(self._mine(job).values(
            last_error=error, next_attempt_at=now + timedelta(seconds=delay),
            lease_owner=None, lease_until=None))
        log.info("callback %s (%s, channel %s) attempt %s failed: %s; next in %.0f s",
                 job.note.id, job.note.event, job.note.channel_no, job.attempt, error, delay)
        return 0

    def _wake(self, session: Session, channels: set[str], now: datetime) -> None:
        """A channel answered: retry now what failed only because it was unreachable.
        (Answers such as HTTP 500 keep their backoff: they may be about the payload.)"""
        if not channels:
            return
        session.execute(update(Notification).where(
            Notification.channel_no.in_(sorted(channels)), Notification.status == "pending",
            Notification.next_attempt_at > now, Notification.lease_owner.is_(None),
            Notification.last_error.like(f"{CONNECT_ERROR_PREFIX}%"),
        ).values(next_attempt_at=now))

    # --- loops ----------------------------------------------------------------------
    def run_batch(self) -> WorkerStats:
        jobs = self.claim()
        if not jobs:
            return WorkerStats()
        stats = self.record(jobs, self.deliver(jobs))
        log.info("callbacks batch: %s", stats.line())
        return stats

    def drain(self, stop: threading.Event | None = None) -> WorkerStats:
        """Deliver everything due now (including what becomes due as streams advance),
        then return: ``ecard worker --once``."""
        total = WorkerStats()
        while stop is None or not stop.is_set():
            stats = self.run_batch()
            if stats.claimed == 0:
                break
            total.add(stats)
        return total

    def run(self, stop: threading.Event, poll_s: float = 1.0) -> WorkerStats:
        """Work until ``stop`` is set; the batch in flight is finished and recorded."""
        total = WorkerStats()
        while not stop.is_set():
            stats = self.run_batch()
            total.add(stats)
            if stats.claimed == 0:
                stop.wait(poll_s)
        return total

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
