"""Certification tables: sessions, their decisions, seen frames, appeals, recipients."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecard.db import Base, UTCDateTime

MODES = ("standard", "elder")
# entitlement: 待遇资格认证; issuance: real person before a first e-card; pin_reset: the
# face check that sets a new PIN (and unlocks it). Issuance and PIN-reset sessions are
# spent once by the step they allow.
ENTITLEMENT, ISSUANCE, PIN_RESET = "entitlement", "issuance", "pin_reset"
PURPOSES = (ENTITLEMENT, ISSUANCE, PIN_RESET)
SESSION_STATUSES = ("open", "decided")
APPEAL_STATUSES = ("open", "approved", "rejected")
RECIPIENT_TYPES = ("enterprise_retiree", "resident", "civil_servant")
RECIPIENT_STATUSES = ("valid", "warning", "suspended", "stopped")


class CertificationSession(Base):
    """One challenge: the actions asked, its deadline, and whether it was decided.
    ``status`` moves open -> decided once, by an UPDATE that names the old status."""

    __tablename__ = "certification_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel_no: Mapped[str] = mapped_column(ForeignKey("channels.channel_no"), index=True)
    sign_no: Mapped[str | None] = mapped_column(String(32))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    mode: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(12))
    nonce: Mapped[str] = mapped_column(String(64))
    actions: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # spent by an issuance


class CertificationAttempt(Base):
    """Every decision with its scores (the DESIGN: every decision records its score)."""

    __tablename__ = "certification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("certification_sessions.id"),
                                            unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    channel_no: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(12))
    passed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(40))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    threshold: Mapped[float] = mapped_column(Float)
    max_distance: Mapped[float | None] = mapped_column(Float)
    max_pairwise_distance: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    frame_count: Mapped[int] = mapped_column(Integer)
    age_band: Mapped[str] = mapped_column(String(8))
    local_day: Mapped[date] = mapped_column(Date, index=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeenFrame(Base):
    """Hashes of every usable frame of a decided session: exact bytes and the face
    crop's perceptual hash, so a frame sent again, re-encoded or not, is a replay."""

    __tablename__ = "certification_seen_frames"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("certification_sessions.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    phash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Appeal(Base):
    """Opened after three failed sessions in a day; an operator approves or rejects it
    after looking at the kept frames beside the enrolment photo."""

    __tablename__ = "certification_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    channel_no: Mapped[str] = mapped_column(String(10))
    sign_no: Mapped[str | None] = mapped_column(String(32))
    session_id: Mapped[str] = mapped_column(ForeignKey("certification_sessions.id"))
    purpose: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), index=True)
    failures: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_day: Mapped[date] = mapped_column(Date)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class AppealFrame(Base):
    """One kept frame of an appeal, encrypted (context ``appeal.frame``)."""

    __tablename__ = "certification_appeal_frames"

    appeal_id: Mapped[int] = mapped_column(ForeignKey("certification_appeals.id"),
                                           primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    image_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    distance: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(40))


class BenefitRecipient(Base):
    """A pension recipient whose entitlement is certified (待遇资格认证)."""

    __tablename__ = "benefit_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    monthly_pension_fen: Mapped[int] = mapped_column(BigInteger)
    funeral_grant_fen: Mapped[int] = mapped_column(BigInteger)
    survivor_lump_sum_fen: Mapped[int] = mapped_column(BigInteger)
    region: Mapped[str] = mapped_column(String(6), index=True)
    bank_account_enc: Mapped[bytes] = mapped_column(LargeBinary)
    period_months: Mapped[int] = mapped_column(Integer)
    certified_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), index=True)
    backpay_due: Mapped[bool] = mapped_column(Boolean, default=False)
    backpay_months: Mapped[int] = mapped_column(Integer, default=0)
    last_certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    died_on: Mapped[date | None] = mapped_column(Date)
    row_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
