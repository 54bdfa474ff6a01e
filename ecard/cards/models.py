"""E-cards (电子社保卡): one issuance per (person, channel), and the person's PIN."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

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
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    face_score: Mapped[float | None] = mapped_column(Float)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Pin(Base):
    """The person's one e-card PIN across all channels (Argon2id hash)."""

    __tablename__ = "pins"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(256))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


