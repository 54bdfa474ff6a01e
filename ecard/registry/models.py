"""The registry of physical-card holders (持卡人员基础信息库)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ecard.db import Base, UTCDateTime

CARD_STATUSES = ("active", "lost", "cancelled", "replaced")


class Person(Base):
    """A card holder. The ID number and name are stored encrypted; ``id_index`` is the
    blind index used to find a person by ID number without decrypting anything."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_masked: Mapped[str] = mapped_column(String(18))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_masked: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(1))  # "1" male, "2" female (GB/T 2261.1)
    birth_date: Mapped[date] = mapped_column(Date)
    region: Mapped[str] = mapped_column(String(6), index=True)  # aab301 of the current card
    # sha256 of the imported row's normalised content: a re-import of the same row
    # changes nothing, a changed row is updated.
    row_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    cards: Mapped[list[PhysicalCard]] = relationship(back_populates="person")


class PhysicalCard(Base):
    """A physical social-security card (aaz500). A person's replaced cards stay here
    with status ``replaced`` and a pointer to their successor."""

    __tablename__ = "physical_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_no: Mapped[str] = mapped_column(String(9), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    region: Mapped[str] = mapped_column(String(6))
    generation: Mapped[int] = mapped_column(Integer)
    bank_code: Mapped[str | None] = mapped_column(String(16))
    bank_account_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reserved_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))
    replaced_by: Mapped[str | None] = mapped_column(String(9))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship(back_populates="cards")


class FaceTemplate(Base):
    """The enrolment photo's 128-d face encoding, and the photo itself, both
    encrypted: the photo is shown to a reviewer beside a disputed capture."""

    __tablename__ = "face_templates"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    template_enc: Mapped[bytes] = mapped_column(LargeBinary)
    photo_enc: Mapped[bytes] = mapped_column(LargeBinary)
    photo_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
