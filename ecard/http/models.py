"""Stored answers to POSTs that carried an ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ecard.db import Base, UTCDateTime


class IdempotencyRecord(Base):
    """(channel, key) is the primary key: the first request claims it with an insert,
    so a concurrent duplicate waits or is told the first is in progress."""

    __tablename__ = "idempotency_records"

    channel_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
