"""The platform's ES256 signing keys (credentials, QR codes, callbacks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecard.db import Base, UTCDateTime

# active: signs and verifies (exactly one); verifying: published in the JWKS so that
# what it signed still verifies; retired: gone from the JWKS.
KEY_STATUSES = ("active", "verifying", "retired")


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    # PKCS#8 DER wrapped with AES-GCM under a key derived from the master secret.
    private_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdentityCode(Base):
    """An issued identity code, by its nonce: the one-time online redemption.

    Redeeming is one conditional UPDATE (``redeemed_at IS NULL``): the database lets
    exactly one of any number of concurrent redemptions change the row. Rows are
    deleted a while after they expire (the signature already refuses expired codes).
    """

    __tablename__ = "identity_codes"

    jti: Mapped[str] = mapped_column(String(24), primary_key=True)  # the nonce, base64url
    ecard_id: Mapped[int] = mapped_column(ForeignKey("ecards.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_by: Mapped[str | None] = mapped_column(String(10))


class Disclosure(Base):
    """Which channel received which attributes of whom, for which e-card and scene."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    ecard_id: Mapped[int] = mapped_column(ForeignKey("ecards.id"))
    channel_no: Mapped[str] = mapped_column(String(10))  # the recipient (scanning channel)
    scene: Mapped[str] = mapped_column(String(2))
    attributes: Mapped[list[str]] = mapped_column(JSON)
    jti: Mapped[str] = mapped_column(String(24))
    disclosed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusListSnapshot(Base):
    """A signed status list, shared by every process: the newest row is served until
    it is ``REFRESH_S`` old; the primary key on ``seq`` lets one builder win."""

    __tablename__ = "status_list_snapshots"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    iat: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[str] = mapped_column(Text)
