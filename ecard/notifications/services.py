"""Writing notifications to the outbox; ``ecard worker`` delivers them later.

A notification is written in the same transaction as the change it reports, so a
channel hears of every committed change and of nothing that was rolled back.
Payloads carry sign numbers and statuses, never personal data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ecard.clock import Clock
from ecard.notifications.models import EVENTS, Notification


def enqueue_notification(session: Session, clock: Clock, channel_no: str,
                         sign_no: str | None, event: str,
                         payload: dict[str, Any]) -> Notification:
    """Add a pending notification for ``channel_no``, due at once."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}; expected one of {EVENTS}")
    now = clock.now()
    note = Notification(channel_no=channel_no, sign_no=sign_no, event=event,
                        payload={"event": event, **payload}, status="pending", attempts=0,
                        next_attempt_at=now, created_at=now)
    session.add(note)
    return note
