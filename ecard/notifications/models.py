"""The outbox of notifications to channels (delivered by ``ecard worker``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecard.db import Base, UTCDateTime

# The fixed vocabulary of callbacks (DESIGN): what happened to an e-card.
EVENTS = (
    "issued", "relinked", "unlinked", "pin_verified", "payment_enabled", "already_issued",
    "verified_by_pin", "verified_by_sms", "verified_by_face",
    "suspended", "reinstated", "revoked", "rebound",
    "certification_warning", "certification_suspended", "certification_reinstated",
    "certification_appeal_decided",
    "payment_captured", "payment_refunded",
)
OUTBOX_STATUSES = ("pending", "delivered", "dead")


class Notification(Base):
    """One callback to one channel. ``attempts`` counts every delivery attempt ever
    made (it numbers them in the signature's ``jti``); ``attempts_at_reset`` is its
    value when an operator last redelivered, so the dead-letter limit counts anew.
    ``lease_owner``/``lease_until`` mark a worker's claim (see ``worker.py``)."""

    __tablename__ = "notifications"
    __table_args__ = (
        # the order of one e-card's stream (sign_no NULL: the channel's own stream)
        Index("ix_notifications_stream", "channel_no", "sign_no", "id"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    sign_no: Mapped[str | None] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts_at_reset: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
