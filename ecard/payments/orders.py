"""Merchant-presented payments (主扫): the merchant shows an order as a QR code, the
holder's channel scans it, shows the order, and pays it with the PIN.

The order token (``EO1.`` and 24 random URL-safe characters) is a reference, not a
credential: paying it still takes the holder's PIN. An order lives
:data:`ORDER_TTL_S` and is paid once (a conditional UPDATE from ``open`` decides);
its payment shares the ``(merchant, order id)`` key with code payments.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecard.audit.services import Actor
from ecard.cards.level2 import usable_ecard
from ecard.cards.pin import PinService
from ecard.channels.interfaces import AuthenticatedChannel
from ecard.channels.models import Channel
from ecard.clock import Clock, utc
from ecard.payments import ledger
from ecard.payments.interfaces import LEVEL_2, OrderView, PaymentError, PaymentView
from ecard.payments.models import MerchantOrder, Payment
from ecard.payments.services import (
    audit_payment,
    capture,
    check_currency,
    load_payment,
    new_payment_id,
    payment_view,
    require_merchant,
)

ORDER_TTL_S = 300
TOKEN_PREFIX = "EO1."  # noqa: S105  (a format marker)


class OrderService:
    def __init__(self, *, clock: Clock, pins: PinService) -> None:
        self.clock = clock
        self.pins = pins

    def _view(self, session: Session, order: MerchantOrder) -> OrderView:
        name = session.scalars(select(Channel.name)
                               .where(Channel.channel_no == order.merchant_no)).one()
        status = order.status
        if status == "open" and self.clock.now() >= utc(order.expires_at):
            status = "expired"
        return OrderView(order_token=order.token, merchant_no=order.merchant_no,
                         merchant_name=name, order_id=order.order_id,
                         amount_fen=order.amount_fen, currency=order.currency,
                         scene=order.scene, status=status, payment_id=order.payment_id,
                         expires_at=utc(order.expires_at))

    def create(self, session: Session, caller: AuthenticatedChannel, order_id: str,
               amount_fen: int, currency: str, scene: str) -> tuple[OrderView, bool]:
        merchant_no = require_merchant(caller)
        check_currency(currency)
        now = self.clock.now()
        values = {"token": TOKEN_PREFIX + secrets.token_urlsafe(18),
                  "merchant_no": merchant_no, "order_id": order_id, "amount_fen": amount_fen,
                  "currency": currency, "scene": scene, "status": "open", "payment_id": None,
                  "created_at": now, "expires_at": now + timedelta(seconds=ORDER_TTL_S)}
        taken = session.scalars(select(Payment.id).where(
            Payment.merchant_no == merchant_no, Payment.order_id == order_id)).first()
        created = taken is None and ledger.insert_ignore(session, MerchantOrder, values)
        order = session.scalars(select(MerchantOrder).where(
            MerchantOrder.merchant_no == merchant_no, MerchantOrder.order_id == order_id)
        ).one_or_none()
        if order is None or order.amount_fen != amount_fen or order.currency != currency:
            raise PaymentError("ORDER_ID_CONFLICT")
        return self._view(session, order), created

    def _open(self, session: Session, token: str) -> MerchantOrder:
        order = session.scalars(select(MerchantOrder).where(MerchantOrder.token == token)
                                .execution_options(populate_existing=True)).one_or_none()
        if order is None or (order.status == "open"
                             and self.clock.now() >= utc(order.expires_at)):
            raise PaymentError("ORDER_NOT_FOUND")
        return order

    def show(self, session: Session, channel_no: str, sign_no: str, token: str) -> OrderView:
        """The order as the holder's channel shows it before the PIN is asked."""
        usable_ecard(session, channel_no, sign_no, min_level=LEVEL_2)
        return self._view(session, self._open(session, token))

    def pay(self, session: Session, channel_no: str, sign_no: str, token: str,
            pin: str) -> PaymentView:
        ecard = usable_ecard(session, channel_no, sign_no, for_update=True, min_level=LEVEL_2)
        order = self._open(session, token)
        if order.status == "paid":
            paid = load_payment(session, order.payment_id or "")
            if paid is not None and paid.ecard_id == ecard.id:
                return payment_view(session, paid)  # a retry of this holder's payment
            raise PaymentError("ORDER_ALREADY_PAID")
        actor = Actor("channel", channel_no)
        self.pins.verify(session, ecard.person_id, pin, actor=actor, channel_no=channel_no)
        now = self.clock.now()
        payment_id = new_payment_id()
        claimed = session.execute(
            update(MerchantOrder).where(MerchantOrder.id == order.id,
                                        MerchantOrder.status == "open")
            .values(status="paid", payment_id=payment_id)
            .execution_options(synchronize_session=False))
        if getattr(claimed, "rowcount", 0) != 1:
            raise PaymentError("ORDER_ALREADY_PAID")
        if not ledger.insert_ignore(session, Payment, {
                "id": payment_id, "merchant_no": order.merchant_no, "order_id": order.order_id,
                "amount_fen": order.amount_fen, "currency": order.currency,
                "scene": order.scene, "kind": "order", "status": "captured",
                "ecard_id": ecard.id, "person_id": ecard.person_id, "device_slot": None,
                "step": None, "refunded_fen": 0, "failure_code": None, "created_at": now,
                "captured_at": now, "updated_at": now}):
            raise PaymentError("ORDER_ALREADY_PAID")
        payment = session.get_one(Payment, payment_id)
        capture(session, payment, now)
        audit_payment(session, self.clock, actor, "payment.captured", payment, kind="order",
                      verified_by="pin")
        return payment_view(session, payment)
