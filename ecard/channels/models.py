"""Channels (渠道): the apps, banks and hospitals that call the platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ecard.db import Base, UTCDateTime

CHANNEL_TYPES = ("ministry", "government", "partner", "bank", "medical", "social")
CHANNEL_STATUSES = ("applied", "testing", "online", "suspended", "exited")


class Channel(Base):
    __tablename__ = "channels"

    channel_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    parent_no: Mapped[str | None] = mapped_column(ForeignKey("channels.channel_no"))
    status: Mapped[str] = mapped_column(String(12))
    callback_url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    keys: Mapped[list[ChannelKey]] = relationship(back_populates="channel")

    @property
    def level(self) -> int:
        """1 for a direct channel, 2 for a second-level channel under a parent."""
        return 2 if self.parent_no else 1


class ChannelKey(Base):
    """A channel's ES256 public key; a channel may hold several during rotation."""

    __tablename__ = "channel_keys"
    __table_args__ = (UniqueConstraint("channel_no", "kid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    public_pem: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))  # active | retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    channel: Mapped[Channel] = relationship(back_populates="keys")


class UsedToken(Base):
    """One row per accepted channel token: the primary key makes a replay fail at
    the database, whichever process or machine sees it second."""

    __tablename__ = "used_tokens"

    channel_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
