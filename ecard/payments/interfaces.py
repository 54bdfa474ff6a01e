"""What the payments domain offers and needs: its errors, the results it returns,
and the narrow interfaces of its collaborators (the SMS gateway is in ``sms.py``,
the bank behind the holder account here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ecard.errors import EcardError

LEVEL_2 = 2
CURRENCY = "CNY"
# Acquirers (收单机构): hospitals and pharmacies (medical), payment platforms and
# transit operators (partner).
MERCHANT_TYPES = frozenset({"medical", "partner"})
SCENES = ("01", "02", "03", "04")


class PaymentError(EcardError):
    """A payment or level-2 operation was refused (``PAYMENT_*``, ``SMS_*`` ...)."""

    default_code = "PAYMENT_NOT_FOUND"


@runtime_checkable
class BankDebitAdapter(Protocol):
    """The boundary to the bank that holds the card's bank account.

    The platform keeps a holder account in its own ledger; when the holder links the
    bank account (level 2) the adapter says how much the bank makes available to it
    (a pre-authorised amount), and that sum is posted from the external bank
    clearing account. A production adapter would ask the card's bank (debit
    authorisation over the bank's own API) and settle the clearing account daily;
    ``DemoBank`` grants a configured amount.
    """

    def available_fen(self, bank_code: str | None, bank_account: str) -> int: ...


class DemoBank:
    """The local fake: every linked account gets the same configured funds."""

    def __init__(self, funds_fen: int) -> None:
        if funds_fen < 0:
            raise ValueError("funds_fen must not be negative")
        self.funds_fen = funds_fen

    def available_fen(self, bank_code: str | None, bank_account: str) -> int:
        return self.funds_fen


@dataclass(frozen=True)
class SmsSent:
    sign_no: str
    phone_masked: str
    expires_at: datetime
    resend_after_s: int


@dataclass(frozen=True)
class Enrolment:
    """A device enrolled at level 2. ``secret`` is answered once and never again."""

    sign_no: str
    level: int
    device_id: str
    device_slot: int
    secret: bytes
    retired_slots: list[int]
    payment_enabled: bool  # True when this enrolment raised the e-card to level 2
    account_balance_fen: int


@dataclass(frozen=True)
class PaymentView:
    payment_id: str
    merchant_no: str
    order_id: str
    amount_fen: int
    currency: str
    scene: str
    kind: str
    status: str
    refunded_fen: int
    sign_no: str
    device_slot: int | None
    created_at: datetime
    captured_at: datetime | None
    confirm_before: datetime | None
    failure_code: str | None
    medical: dict[str, Any] | None = None  # a medical bill's split (medical.view)


@dataclass(frozen=True)
class RefundView:
    refund_id: str
    payment_id: str
    amount_fen: int
    created_at: datetime
    payment: PaymentView
    medical: dict[str, int] | None = None  # a medical bill's refund by part


@dataclass(frozen=True)
class OrderView:
    order_token: str
    merchant_no: str
    merchant_name: str
    order_id: str
    amount_fen: int
    currency: str
    scene: str
    status: str
    payment_id: str | None
    expires_at: datetime
