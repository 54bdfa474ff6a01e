"""Level 2 and payments: SMS challenges, enrolled devices, the double-entry ledger,
payments, the single-use record of payment codes, refunds and merchant orders.

Money is integer fen everywhere. What must hold is held by the database, not by a
Python check before a write: balances by ``CHECK (balance_fen >= 0)`` (except the
external bank clearing account, whose balance is the mirror of the money brought in),
one capture per code by the unique key ``(device_id, step)``, one payment per order
by ``(merchant_no, order_id)``, one posting per business event by ``(kind, ref)``,
refunds by ``CHECK (refunded_fen <= amount_fen)``, a medical bill's parts by the
CHECKs of ``medical_settlements``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecard.db import Base, UTCDateTime

ACCOUNT_KINDS = ("holder", "merchant", "external")
PAYMENT_STATUSES = ("pending_pin", "captured", "failed", "refunded", "partially_refunded")


class SmsChallenge(Base):
    """The one active SMS code of an e-card (a resend replaces it)."""

    __tablename__ = "sms_challenges"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    ecard_id: Mapped[int] = mapped_column(ForeignKey("ecards.id"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    phone_masked: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentDevice(Base):
    """A holder's device enrolled at level 2: its slot (in every payment code) and its
    secret, encrypted. Slots are never reused."""

    __tablename__ = "payment_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ecard_id: Mapped[int] = mapped_column(ForeignKey("ecards.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    slot: Mapped[int] = mapped_column(Integer, unique=True)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))  # active | retired
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Account(Base):
    """A ledger account: a holder's (per person), a merchant's settlement account (per
    acquirer channel), or the external bank clearing account."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner"),
        CheckConstraint("balance_fen >= 0 OR kind = 'external'", name="balance_not_negative"),
        CheckConstraint("kind IN ('holder', 'merchant', 'external')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    owner: Mapped[str] = mapped_column(String(32))  # person id, channel number, bank code
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Posting(Base):
    """One business event moved money: its entries sum to zero."""

    __tablename__ = "ledger_postings"
    __table_args__ = (UniqueConstraint("kind", "ref"),
                      CheckConstraint("amount_fen > 0", name="amount_positive"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # payment | refund | funding
    ref: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Entry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("ledger_postings.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # + credit to the account, - debit


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("merchant_no", "order_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen",
                        name="refund_bounded"),
        CheckConstraint("currency = 'CNY'", name="currency_cny"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    order_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    scene: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(16))  # code (付款码) | order (主扫)
    status: Mapped[str] = mapped_column(String(20), index=True)
    ecard_id: Mapped[int] = mapped_column(ForeignKey("ecards.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    device_slot: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int | None] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentCodeUse(Base):
    """A payment code redeemed: once, ever (the primary key decides a race)."""

    __tablename__ = "payment_code_uses"

    device_id: Mapped[int] = mapped_column(ForeignKey("payment_devices.id"), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("payment_id", "refund_id"),
                      CheckConstraint("amount_fen > 0", name="amount_positive"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # a medical bill's refund by part (payments.medical); null for other payments
    fund_fen: Mapped[int | None] = mapped_column(BigInteger)
    personal_account_fen: Mapped[int | None] = mapped_column(BigInteger)
    cash_fen: Mapped[int | None] = mapped_column(BigInteger)


class MerchantOrder(Base):
    """An order a merchant shows as a QR code for the holder to scan (主扫)."""

    __tablename__ = "merchant_orders"
    __table_args__ = (UniqueConstraint("merchant_no", "order_id"),
                      CheckConstraint("amount_fen > 0", name="amount_positive"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    merchant_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    order_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    scene: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12))  # open | paid
    payment_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MedicalSettlement(Base):
    """The split of a medical bill paid through the platform (one per payment): what
    the hospital sent, the policy applied, the parts, and how much of each part was
    refunded. The CHECKs hold the sums: fund + personal account + cash = total, and no
    part refunded beyond what it paid."""

    __tablename__ = "medical_settlements"
    __table_args__ = (
        CheckConstraint("fund_fen + personal_account_fen + cash_fen = total_fen",
                        name="parts_sum_to_total"),
        CheckConstraint("fund_fen >= 0 AND personal_account_fen >= 0 AND cash_fen >= 0",
                        name="parts_not_negative"),
        CheckConstraint("fund_refunded_fen >= 0 AND fund_refunded_fen <= fund_fen",
                        name="fund_refund_bounded"),
        CheckConstraint("personal_account_refunded_fen >= 0 AND "
                        "personal_account_refunded_fen <= personal_account_fen",
                        name="personal_account_refund_bounded"),
        CheckConstraint("cash_refunded_fen >= 0 AND cash_refunded_fen <= cash_fen",
                        name="cash_refund_bounded"),
        # the year-to-date deductible and fund use of one insured person
        Index("ix_medical_settlements_year", "person_id", "insured_region", "policy_year"),
    )

    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    insured_region: Mapped[str] = mapped_column(String(6))
    policy_year: Mapped[int] = mapped_column(Integer)  # calendar year, China Standard Time
    scene: Mapped[str] = mapped_column(String(2))
    filed: Mapped[bool] = mapped_column(Boolean)
    self_funded_fen: Mapped[int] = mapped_column(BigInteger)
    class_b_self_fen: Mapped[int] = mapped_column(BigInteger)
    personal_account_balance_fen: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    eligible_fen: Mapped[int] = mapped_column(BigInteger)
    deductible_paid_fen: Mapped[int] = mapped_column(BigInteger)
    ratio_bp: Mapped[int] = mapped_column(Integer)
    fund_fen: Mapped[int] = mapped_column(BigInteger)
    personal_account_fen: Mapped[int] = mapped_column(BigInteger)
    cash_fen: Mapped[int] = mapped_column(BigInteger)
    fund_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    personal_account_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

