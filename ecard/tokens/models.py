"""The platform's ES256 signing keys (credentials, QR codes, callbacks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, LargeBinary, String
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
