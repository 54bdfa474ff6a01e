"""Tables the channel adapters own.

* ``channel_user_links``: a payment platform's own user id beside our per-channel
  ``openid`` (both unique within the channel: one user, one e-card holder).
* ``payout_batches`` / ``payout_instructions`` / ``payout_positions``: the pension
  payout files sent to banks. A batch is unique per (bank, business day) and per
  (bank, batch number), so a second export of a day returns the first one's file
  (stored encrypted, byte for byte, with its signature). ``payout_positions`` is what
  the bank was last told about a recipient: the next file holds only the differences.
* ``h5_ticket_uses``: one row per redeemed government-app ticket; its primary key
  makes a ticket redeemable once, across every process.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecard.db import Base, UTCDateTime

PAYOUT_KINDS = ("SUSPEND", "REINSTATE", "BACKPAY", "STOP")
POSITION_STATUSES = ("paying", "suspended", "stopped")


class ChannelUserLink(Base):
    __tablename__ = "channel_user_links"
    __table_args__ = (UniqueConstraint("channel_no", "user_id", name="uq_channel_user_links_user"),
                      UniqueConstraint("channel_no", "openid",
                                       name="uq_channel_user_links_openid"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    openid: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PayoutBatch(Base):
    __tablename__ = "payout_batches"
    __table_args__ = (UniqueConstraint("bank_code", "business_day", name="uq_payout_batches_day"),
                      UniqueConstraint("bank_code", "batch_no", name="uq_payout_batches_no"),
                      CheckConstraint("record_count >= 0", name="count_not_negative"),
                      CheckConstraint("control_sum_fen >= 0", name="sum_not_negative"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(16))
    business_day: Mapped[date] = mapped_column(Date)
    batch_no: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer)
    control_sum_fen: Mapped[int] = mapped_column(BigInteger)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_enc: Mapped[bytes] = mapped_column(LargeBinary)  # context payout.file
    signature: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PayoutInstruction(Base):
    __tablename__ = "payout_instructions"
    __table_args__ = (UniqueConstraint("batch_id", "seq"),
                      CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
                      CheckConstraint("months >= 0", name="months_not_negative"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("benefit_recipients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    effective_on: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class PayoutPosition(Base):
    __tablename__ = "payout_positions"

    recipient_id: Mapped[int] = mapped_column(ForeignKey("benefit_recipients.id"),
                                              primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(12))
    # recipient.backpay_months already settled: instructed, or not owed because the
    # bank kept paying through a suspension it was never told about
    backpay_months_seen: Mapped[int] = mapped_column(Integer)
    last_batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class H5TicketUse(Base):
    __tablename__ = "h5_ticket_uses"

    channel_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    openid: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
