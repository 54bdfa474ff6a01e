"""E-cards (电子社保卡): one issuance per (person, channel), and the person's PIN."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    insert,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ecard.db import Base, UTCDateTime

ECARD_STATUSES = ("active", "suspended", "revoked", "unlinked")


class ECard(Base):
    __tablename__ = "ecards"
    __table_args__ = (UniqueConstraint("person_id", "channel_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sign_no: Mapped[str] = mapped_column(String(32), unique=True)  # 签发号
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    channel_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("physical_cards.id"), index=True)
    openid: Mapped[str] = mapped_column(String(40), index=True)  # per-channel pseudonym
    # The e-card's bit in the signed revocation status list and the index its identity
    # codes carry: assigned once at first issuance, kept across unlink and relink,
    # never given to another e-card (see StatusIndexAllocation).
    status_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    face_score: Mapped[float | None] = mapped_column(Float)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusIndexAllocation(Base):
    """The counter behind ``ECard.status_index``: inserting a row draws the next value.

    A dedicated counter rather than ``ECard.id``: the bit an offline terminal checks
    must never move to another e-card, and SQLite hands out ``max(rowid) + 1`` again
    after the newest row is deleted, while a table with ``AUTOINCREMENT`` (and a
    PostgreSQL identity sequence) never repeats a value. It also keeps the index
    independent of how e-card rows are stored, merged or sharded later. The row is
    deleted right after: the value lives on in the sequence, the table stays empty,
    and concurrent issuances never wait on a shared counter row.
    """

    __tablename__ = "ecard_status_indexes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    # 64 bits: e-cards are per (person, channel), over a billion holders times channels.
    value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                       primary_key=True, autoincrement=True)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def allocate_status_index(session: Session, now: datetime) -> int:
    """Draw a fresh, never-reused status index (values start at 1)."""
    result = session.execute(insert(StatusIndexAllocation).values(allocated_at=now)
                             .returning(StatusIndexAllocation.value))
    value = int(result.scalar_one())
    session.execute(delete(StatusIndexAllocation).where(StatusIndexAllocation.value == value))
    return value


class Pin(Base):
    """The person's one e-card PIN across all channels (Argon2id hash)."""

    __tablename__ = "pins"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(256))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


