"""Payments: redeeming payment codes, the holder's PIN confirmation, reading,
refunds. Merchant-presented orders are in ``orders.py``.

One payment per ``(merchant, order id)``: a retry of the same request answers the
same payment, another amount or currency under that order id is
``ORDER_ID_CONFLICT``. One capture per payment code, ever: the primary key
``(device, step)`` of ``payment_code_uses`` decides between racing processes, and
the device's ``last_step`` (advanced by a conditional UPDATE) kills older codes
still inside their window once a newer one was used. Every refusal rolls the
whole request back (no half-written payment), except a wrong PIN's count.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.level2 import DEVICE_SECRET_CONTEXT, usable_ecard
from ecard.cards.models import ECard
from ecard.cards.pin import PinService
from ecard.channels.interfaces import AuthenticatedChannel
from ecard.clock import Clock, FrozenClock, utc
from ecard.notifications.services import enqueue_notification
from ecard.payments import ledger
from ecard.payments.codes import (
    MAC_DIGITS,
    PREFIX,
    SLOT_DIGITS,
    hotp_sha256,
    is_payment_code,
    time_step,
    verify_payment_code,
)
from ecard.payments.interfaces import (
    CURRENCY,
    LEVEL_2,
    MERCHANT_TYPES,
    PaymentError,
    PaymentView,
    RefundView,
)
from ecard.payments.models import Payment, PaymentCodeUse, PaymentDevice, Refund
from ecard.protect import DataProtector
from ecard.tokens.interfaces import InvalidToken

PENDING_TTL_S = 300
# How far back a code that no longer verifies is recognised as "expired" rather than
# "invalid" (only for the device the slot names, with its own secret).
EXPIRED_LOOKBACK_STEPS = 20
REFUNDABLE = ("captured", "partially_refunded")
SCENE_PAYMENT = "payment"


@dataclass(frozen=True)
class RedeemRequest:
    code: str
    amount_fen: int
    currency: str
    order_id: str
    scene: str


def new_payment_id() -> str:
    return "P" + secrets.token_hex(12)


def require_merchant(caller: AuthenticatedChannel) -> str:
    if caller.type not in MERCHANT_TYPES:
        raise PaymentError("CHANNEL_NOT_MERCHANT", details={"channel_type": caller.type})
    return caller.channel_no


def check_currency(currency: str) -> str:
    if currency != CURRENCY:
        raise PaymentError("CURRENCY_NOT_SUPPORTED", details={"supported": [CURRENCY]})
    return currency


def payment_view(session: Session, payment: Payment) -> PaymentView:
    sign_no = session.scalars(select(ECard.sign_no).where(ECard.id == payment.ecard_id)).one()
    confirm_before = (utc(payment.created_at) + timedelta(seconds=PENDING_TTL_S)
                      if payment.status == "pending_pin" else None)
    return PaymentView(
        payment_id=payment.id, merchant_no=payment.merchant_no, order_id=payment.order_id,
        amount_fen=payment.amount_fen, currency=payment.currency, scene=payment.scene,
        kind=payment.kind, status=payment.status, refunded_fen=payment.refunded_fen,
        sign_no=sign_no, device_slot=payment.device_slot, created_at=utc(payment.created_at),
        captured_at=utc(payment.captured_at) if payment.captured_at else None,
        confirm_before=confirm_before, failure_code=payment.failure_code)


def load_payment(session: Session, payment_id: str, *, for_update: bool = False) -> Payment | None:
    stmt = select(Payment).where(Payment.id == payment_id).execution_options(
        populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def capture(session: Session, payment: Payment, now: datetime) -> None:
    """Post the payment: holder account → merchant settlement account."""
    holder = ledger.account_id(session, "holder", str(payment.person_id), now)
    merchant = ledger.account_id(session, "merchant", payment.merchant_no, now)
    ledger.post(session, "payment", payment.id,
                [ledger.Leg(holder, -payment.amount_fen),
                 ledger.Leg(merchant, payment.amount_fen)], now)
    notify_holder_channel(session, payment, "payment_captured", now)


def notify_holder_channel(session: Session, payment: Payment, event: str, now: datetime,
                          **extra: Any) -> None:
    """Tell the channel whose e-card paid (its user's bill); no personal data."""
    ecard = session.get_one(ECard, payment.ecard_id)
    enqueue_notification(session, FrozenClock(now), ecard.channel_no, ecard.sign_no, event, {
        "sign_no": ecard.sign_no, "openid": ecard.openid, "payment_id": payment.id,
        "merchant_no": payment.merchant_no, "order_id": payment.order_id,
        "amount_fen": payment.amount_fen, "currency": payment.currency,
        "scene": payment.scene, "kind": payment.kind, "refunded_fen": payment.refunded_fen,
        "occurred_at": now.isoformat(), **extra})


def audit_payment(session: Session, clock: Clock, actor: Actor, action: str, payment: Payment,
                  **details: Any) -> None:
    AuditLog(session, clock).record(
        actor, action, subject=f"person:{payment.person_id}", channel_no=actor.id,
        scene=SCENE_PAYMENT, details={"payment_id": payment.id, "merchant_no":
                                      payment.merchant_no, "order_id": payment.order_id,
                                      "amount_fen": payment.amount_fen, **details})


class PaymentService:
    def __init__(self, *, protector: DataProtector, clock: Clock, pins: PinService,
                 no_pin_limit_fen: int) -> None:
        self.protector = protector
        self.clock = clock
        self.pins = pins
        self.no_pin_limit_fen = no_pin_limit_fen

    # -- consumer-presented (付款码) ------------------------------------------
    def redeem(self, session: Session, caller: AuthenticatedChannel,
               req: RedeemRequest) -> tuple[PaymentView, bool]:
        """Verify the code and take the payment; ``(view, created)``."""
        merchant_no = require_merchant(caller)
        check_currency(req.currency)
        existing = self._same_order(session, merchant_no, req)
        if existing is not None:
            return existing, False
        now = self.clock.now()
        dev, step = self._verify(session, req.code, now)
        ecard = session.get_one(ECard, dev.ecard_id)
        if ecard.status != "active":
            raise PaymentError("ECARD_SUSPENDED" if ecard.status == "suspended"
                               else "ECARD_NOT_ACTIVE", details={"status": ecard.status})
        if ecard.level < LEVEL_2:
            raise PaymentError("ECARD_LEVEL_INSUFFICIENT")
        if dev.last_step is not None and step <= dev.last_step:
            raise PaymentError("PAYMENT_CODE_USED")
        pending = req.amount_fen > self.no_pin_limit_fen
        payment_id = new_payment_id()
        inserted = ledger.insert_ignore(session, Payment, {
            "id": payment_id, "merchant_no": merchant_no, "order_id": req.order_id,
            "amount_fen": req.amount_fen, "currency": req.currency, "scene": req.scene,
            "kind": "code", "status": "pending_pin" if pending else "captured",
            "ecard_id": ecard.id, "person_id": ecard.person_id, "device_slot": dev.slot,
            "step": step, "refunded_fen": 0, "failure_code": None, "created_at": now,
            "captured_at": None if pending else now, "updated_at": now})
        if not inserted:  # the same order id committed meanwhile by a racing request
            again = self._same_order(session, merchant_no, req)
            if again is None:
                raise PaymentError("ORDER_IN_PROGRESS")
            return again, False
        if not ledger.insert_ignore(session, PaymentCodeUse, {
                "device_id": dev.id, "step": step, "payment_id": payment_id, "used_at": now}):
            raise PaymentError("PAYMENT_CODE_USED")
        advanced = session.execute(
            update(PaymentDevice).where(PaymentDevice.id == dev.id, or_(
                PaymentDevice.last_step.is_(None), PaymentDevice.last_step < step))
            .values(last_step=step).execution_options(synchronize_session=False))
        if getattr(advanced, "rowcount", 0) != 1:
            raise PaymentError("PAYMENT_CODE_USED")
        payment = session.get_one(Payment, payment_id)
        if not pending:
            capture(session, payment, now)
        audit_payment(session, self.clock, Actor("channel", merchant_no),
                      "payment.pending_pin" if pending else "payment.captured", payment,
                      kind="code", device_slot=dev.slot)
        return payment_view(session, payment), True

    def _same_order(self, session: Session, merchant_no: str,
                    req: RedeemRequest) -> PaymentView | None:
        payment = session.scalars(
            select(Payment).where(Payment.merchant_no == merchant_no,
                                  Payment.order_id == req.order_id)
            .execution_options(populate_existing=True)).one_or_none()
        if payment is None:
            return None
        if payment.amount_fen != req.amount_fen or payment.currency != req.currency:
            raise PaymentError("ORDER_ID_CONFLICT", details={"payment_id": payment.id})
        return payment_view(session, payment)

    def _verify(self, session: Session, code: str,
                now: datetime) -> tuple[PaymentDevice, int]:
        found: dict[str, PaymentDevice] = {}

        def lookup(slot: int) -> bytes | None:
            dev = session.scalars(select(PaymentDevice).where(
                PaymentDevice.slot == slot, PaymentDevice.status == "active")).one_or_none()
            if dev is None:
                return None
            found["device"] = dev
            return self.protector.decrypt(dev.secret_enc, DEVICE_SECRET_CONTEXT)

        try:
            match = verify_payment_code(code, lookup, now=now)
        except InvalidToken:
            dev = found.get("device")
            if dev is not None and self._expired(dev, code, now):
                raise PaymentError("PAYMENT_CODE_EXPIRED") from None
            raise PaymentError("PAYMENT_CODE_INVALID") from None
        return found["device"], match.step

    def _expired(self, dev: PaymentDevice, code: str, now: datetime) -> bool:
        """Whether ``code`` is this device's code of a step before the window."""
        if not is_payment_code(code):
            return False
        secret = self.protector.decrypt(dev.secret_enc, DEVICE_SECRET_CONTEXT)
        given = code[len(PREFIX) + SLOT_DIGITS:]
        current = time_step(now.timestamp())
        hit = False
        for step in range(current - 2, max(current - 2 - EXPIRED_LOOKBACK_STEPS, -1), -1):
            hit |= hmac.compare_digest(hotp_sha256(secret, step, MAC_DIGITS), given)
        return hit

    # -- the holder confirms with the PIN -------------------------------------
    def list_pending(self, session: Session, channel_no: str, sign_no: str) -> list[PaymentView]:
        ecard = usable_ecard(session, channel_no, sign_no, min_level=LEVEL_2)
        since = self.clock.now() - timedelta(seconds=PENDING_TTL_S)
        rows = session.scalars(
            select(Payment).where(Payment.ecard_id == ecard.id,
                                  Payment.status == "pending_pin", Payment.created_at > since)
            .order_by(Payment.created_at))
        return [payment_view(session, p) for p in rows]

    def confirm(self, session: Session, channel_no: str, sign_no: str, payment_id: str,
                pin: str) -> PaymentView:
        ecard = usable_ecard(session, channel_no, sign_no, for_update=True, min_level=LEVEL_2)
        payment = load_payment(session, payment_id, for_update=True)
        if payment is None or payment.ecard_id != ecard.id:
            raise PaymentError("PAYMENT_NOT_FOUND")
        if payment.status != "pending_pin":
            if payment.status in ("captured", *REFUNDABLE, "refunded"):
                return payment_view(session, payment)  # confirmed already: same answer
            raise PaymentError("PAYMENT_NOT_PENDING", details={"status": payment.status})
        now = self.clock.now()
        if now >= utc(payment.created_at) + timedelta(seconds=PENDING_TTL_S):
            session.execute(update(Payment).where(Payment.id == payment.id,
                                                  Payment.status == "pending_pin")
                            .values(status="failed", failure_code="PAYMENT_EXPIRED",
                                    updated_at=now).execution_options(
                                        synchronize_session=False))
            raise PaymentError("PAYMENT_EXPIRED", keeps_writes=True)
        actor = Actor("channel", channel_no)
        self.pins.verify(session, ecard.person_id, pin, actor=actor, channel_no=channel_no)
        done = session.execute(
            update(Payment).where(Payment.id == payment.id, Payment.status == "pending_pin")
            .values(status="captured", captured_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
        if getattr(done, "rowcount", 0) != 1:
            raise PaymentError("PAYMENT_NOT_PENDING")
        capture(session, payment, now)
        payment = load_payment(session, payment.id)
        assert payment is not None
        audit_payment(session, self.clock, actor, "payment.captured", payment,
                      kind="code", verified_by="pin")
        return payment_view(session, payment)

    # -- reading ---------------------------------------------------------------
    def get(self, session: Session, channel_no: str, payment_id: str) -> PaymentView:
        """The merchant's payment, or one made with the holder's e-card in this channel."""
        payment = load_payment(session, payment_id)
        if payment is None:
            raise PaymentError("PAYMENT_NOT_FOUND")
        if payment.merchant_no != channel_no:
            holder_channel = session.scalars(
                select(ECard.channel_no).where(ECard.id == payment.ecard_id)).one()
            if holder_channel != channel_no:
                raise PaymentError("PAYMENT_NOT_FOUND")
        return payment_view(session, payment)

    # -- refunds -----------------------------------------------------------------
    def refund(self, session: Session, caller: AuthenticatedChannel, payment_id: str,
               refund_id: str, amount_fen: int) -> tuple[RefundView, bool]:
        merchant_no = require_merchant(caller)
        payment = load_payment(session, payment_id)
        if payment is None or payment.merchant_no != merchant_no:
            raise PaymentError("PAYMENT_NOT_FOUND")
        existing = self._same_refund(session, payment_id, refund_id, amount_fen)
        if existing is not None:
            return existing, False
        if payment.status not in REFUNDABLE:
            raise PaymentError("PAYMENT_NOT_REFUNDABLE", details={"status": payment.status})
        now = self.clock.now()
        after = Payment.refunded_fen + amount_fen
        bumped = session.execute(
            update(Payment).where(Payment.id == payment_id, Payment.status.in_(REFUNDABLE),
                                  after <= Payment.amount_fen)
            .values(refunded_fen=after, updated_at=now, status=case(
                (after == Payment.amount_fen, "refunded"), else_="partially_refunded"))
            .execution_options(synchronize_session=False))
        if getattr(bumped, "rowcount", 0) != 1:
            current = load_payment(session, payment_id)
            assert current is not None
            raise PaymentError("REFUND_EXCEEDS_CAPTURED", details={
                "refundable_fen": current.amount_fen - current.refunded_fen})
        if not ledger.insert_ignore(session, Refund, {
                "payment_id": payment_id, "refund_id": refund_id, "amount_fen": amount_fen,
                "created_at": now}):
            raise PaymentError("ORDER_IN_PROGRESS")
        holder = ledger.account_id(session, "holder", str(payment.person_id), now)
        merchant = ledger.account_id(session, "merchant", merchant_no, now)
        ledger.post(session, "refund", f"{payment_id}:{refund_id}",
                    [ledger.Leg(merchant, -amount_fen), ledger.Leg(holder, amount_fen)], now)
        payment = load_payment(session, payment_id)
        assert payment is not None
        notify_holder_channel(session, payment, "payment_refunded", now, refund_id=refund_id,
                              refund_fen=amount_fen)
        audit_payment(session, self.clock, Actor("channel", merchant_no), "payment.refunded",
                      payment, refund_id=refund_id, refund_fen=amount_fen)
        view = self._same_refund(session, payment_id, refund_id, amount_fen)
        assert view is not None
        return view, True

    def _same_refund(self, session: Session, payment_id: str, refund_id: str,
                     amount_fen: int) -> RefundView | None:
        row = session.scalars(select(Refund).where(Refund.payment_id == payment_id,
                                                   Refund.refund_id == refund_id)).one_or_none()
        if row is None:
            return None
        if row.amount_fen != amount_fen:
            raise PaymentError("REFUND_ID_CONFLICT", details={"amount_fen": row.amount_fen})
        payment = load_payment(session, payment_id)
        assert payment is not None
        return RefundView(refund_id=refund_id, payment_id=payment_id, amount_fen=amount_fen,
                          created_at=utc(row.created_at), payment=payment_view(session, payment))
