"""Writing notifications to the outbox; ``ecard worker`` delivers them later.

A notification is written in the same transaction as the change it reports, so a
channel hears of every committed change and of nothing that was rolled back.
Payloads carry sign numbers and statuses, never personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.clock import Clock
from ecard.notifications.models import EVENTS, Notification


def enqueue_notification(session: Session, clock: Clock, channel_no: str,
                         sign_no: str | None, event: str,
                         payload: dict[str, Any]) -> Notification:
    """Add a pending notification for ``channel_no``, due at once."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}; expected one of {EVENTS}")
    # Each channel kind receives its own shape of the payload (channel_adapters);
    # imported here because the adapters build on the domains that call this.
    from channel_adapters.registry import shape_notification

    payload = shape_notification(session, channel_no, event, payload)
    now = clock.now()
    note = Notification(channel_no=channel_no, sign_no=sign_no, event=event,
                        payload={"event": event, **payload}, status="pending", attempts=0,
                        next_attempt_at=now, created_at=now)
    session.add(note)
    return note


def list_notifications(session: Session, *, status: str | None = None,
                       channel_no: str | None = None, limit: int = 100) -> list[Notification]:
    """Newest first, for ``ecard callbacks list``."""
    stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if channel_no is not None:
        stmt = stmt.where(Notification.channel_no == channel_no)
    return list(session.scalars(stmt))


def redeliver(session: Session, clock: Clock, actor: Actor, *, ids: Sequence[int] = (),
              channel_no: str | None = None, status: str | None = None) -> list[int]:
    """Put notifications back to ``pending``, due now, with a fresh dead-letter budget.

    ``attempts`` keeps counting (the next attempt gets the next number, so its ``jti``
    is new) and ``last_error`` stays as the record of the last failure. Select by
    ``ids``, or by ``channel_no`` and ``status`` (``dead`` or ``delivered``).
    """
    if not ids and channel_no is None:
        raise ValueError("give notification ids, or a channel (with a status)")
    if status is not None and status not in ("dead", "delivered"):
        raise ValueError("only dead or delivered notifications can be redelivered")
    stmt = select(Notification).order_by(Notification.id)
    if ids:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    if channel_no is not None:
        stmt = stmt.where(Notification.channel_no == channel_no)
    stmt = stmt.where(Notification.status == status) if status is not None else \
        stmt.where(Notification.status.in_(("dead", "delivered")))
    notes = list(session.scalars(stmt.with_for_update()))
    now = clock.now()
    for note in notes:
        previous = note.status
        note.status = "pending"
        note.next_attempt_at = now
        note.attempts_at_reset = note.attempts
        note.lease_owner = None
        note.lease_until = None
        AuditLog(session, clock).record(
            actor, "notification.redelivered", channel_no=note.channel_no,
            subject=f"notification:{note.id}",
            details={"from": previous, "attempts": note.attempts, "event": note.event})
    return [note.id for note in notes]
