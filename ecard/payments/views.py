"""The payments API. ``level2_bp``: level 2 (开通缴费结算), an SMS code to the
bank-reserved phone, then the code and the device id give level 2 and a device
secret, answered once. ``bp``: merchants take payment codes, show orders and
refund; the holder's channel lists and confirms pending payments and pays merchant
orders.

A merchant is a channel of an acquirer type (medical, partner). Every POST honours
``Idempotency-Key``; payments are also idempotent on the merchant's order id and
refunds on the refund id.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flask_smorest import Blueprint

from ecard.cards.level2 import CODE_FORMAT, Level2Service
from ecard.cards.views import CHANNEL_JWT, card_service
from ecard.channels.flask_auth import (
    current_channel,
    current_channel_no,
    idempotent_per_channel,
    require_channel,
)
from ecard.payments.interfaces import DemoBank
from ecard.payments.medical import parse_policies
from ecard.payments.orders import OrderService
from ecard.payments.schemas import (
    ConfirmRequest,
    EnableRequest,
    EnrolmentResponse,
    OrderLookupRequest,
    OrderPayRequest,
    OrderRequest,
    OrderResponse,
    PaymentListResponse,
    PaymentResponse,
    RedeemRequest,
    RefundRequest,
    RefundResponse,
    SmsSentResponse,
)
from ecard.payments.services import PaymentService
from ecard.payments.services import RedeemRequest as Redeem
from ecard.payments.sms import LogFileSmsGateway, SmsGateway
from ecard.platform import Platform, current_platform
from ecard.tokens.render import render_png

bp = Blueprint("payments", __name__, url_prefix="/api/v1",
               description="Payments: payment codes (付款码), merchant orders (主扫), PIN "
                           "confirmation, refunds.")

_SERVICE = "ecard.payments.service"
_ORDERS = "ecard.payments.orders"


def payment_service(platform: Platform) -> PaymentService:
    svc: PaymentService | None = platform.extras.get(_SERVICE)
    pins = card_service(platform).pins
    limit = int(platform.config["PAYMENT_NO_PIN_LIMIT_FEN"])
    policies = parse_policies(platform.config.get("MEDICAL_POLICIES"))
    if (svc is None or svc.pins is not pins or svc.no_pin_limit_fen != limit
            or svc.medical_policies != policies):
        svc = PaymentService(protector=platform.protector, clock=platform.clock, pins=pins,
                             no_pin_limit_fen=limit, medical_policies=policies)
        platform.extras[_SERVICE] = svc
    return svc


def order_service(platform: Platform) -> OrderService:
    svc: OrderService | None = platform.extras.get(_ORDERS)
    pins = card_service(platform).pins
    if svc is None or svc.pins is not pins:
        svc = OrderService(clock=platform.clock, pins=pins)
        platform.extras[_ORDERS] = svc
    return svc


# -- merchant side ----------------------------------------------------------------
@bp.route("/payments", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(RedeemRequest)
@bp.response(201, PaymentResponse, description="Captured, or pending_pin above the "
                                               "no-PIN limit (for a medical bill: when "
                                               "the holder's share is above it).")
@bp.alt_response(200, schema=PaymentResponse,
                 description="The order id was paid before: the same payment.")
def redeem(args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Take a payment with a scanned payment code (付款码); a medical channel may send
    a ``medical`` block to settle the bill with the insurance fund."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view, created = payment_service(platform).redeem(session, current_channel(),
                                                         Redeem(**args))
    return asdict(view), 201 if created else 200


@bp.route("/payments/<string:payment_id>")
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, PaymentResponse)
def get_payment(payment_id: str) -> dict[str, Any]:
    """A payment, for its merchant or for the holder's channel."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = payment_service(platform).get(session, current_channel_no(), payment_id)
    return asdict(view)


@bp.route("/payments/<string:payment_id>/refunds", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(RefundRequest)
@bp.response(201, RefundResponse)
@bp.alt_response(200, schema=RefundResponse, description="The same refund id again.")
def refund(args: dict[str, Any], payment_id: str) -> tuple[dict[str, Any], int]:
    """Refund part or all of a captured payment (idempotent on ``refund_id``)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view, created = payment_service(platform).refund(
            session, current_channel(), payment_id, args["refund_id"], args["amount_fen"])
    return asdict(view), 201 if created else 200


@bp.route("/merchant-orders", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(OrderRequest)
@bp.response(201, OrderResponse)
@bp.alt_response(200, schema=OrderResponse, description="The same order id again.")
def create_order(args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create an order for the holder to scan (主扫): its token and QR code (PNG)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view, created = order_service(platform).create(session, current_channel(), **args)
    body = asdict(view)
    body["qr_png"] = base64.b64encode(render_png(view.order_token)).decode()
    return body, 201 if created else 200


# -- holder side (the e-card's own channel) -----------------------------------------
@bp.route("/cards/<string:sign_no>/payments/pending")
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, PaymentListResponse)
def pending(sign_no: str) -> dict[str, Any]:
    """Payments waiting for the holder's PIN (each for 5 minutes)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        rows = payment_service(platform).list_pending(session, current_channel_no(), sign_no)
    return {"payments": [asdict(r) for r in rows]}


@bp.route("/cards/<string:sign_no>/payments/<string:payment_id>/confirm", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(ConfirmRequest)
@bp.response(200, PaymentResponse)
def confirm(args: dict[str, Any], sign_no: str, payment_id: str) -> dict[str, Any]:
    """Confirm a pending payment with the PIN: it is captured."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = payment_service(platform).confirm(session, current_channel_no(), sign_no,
                                                 payment_id, args["pin"])
    return asdict(view)


@bp.route("/cards/<string:sign_no>/merchant-orders/lookup", methods=["POST"])
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(OrderLookupRequest)
@bp.response(200, OrderResponse)
def lookup_order(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """The scanned order (merchant, amount) to show the holder before the PIN."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = order_service(platform).show(session, current_channel_no(), sign_no,
                                            args["order_token"])
    return asdict(view)


@bp.route("/cards/<string:sign_no>/merchant-orders/pay", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(OrderPayRequest)
@bp.response(200, PaymentResponse)
def pay_order(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """Pay a scanned merchant order with the PIN."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = order_service(platform).pay(session, current_channel_no(), sign_no,
                                           args["order_token"], args["pin"])
    return asdict(view)


# -- level 2 ----------------------------------------------------------------------
level2_bp = Blueprint("level2", __name__, url_prefix="/api/v1/cards",
               description="Level 2 (开通缴费结算): link the card's bank account with an "
                           "SMS code and enrol the holder's device for payment codes.")

SMS_EXTRA = "ecard.payments.sms"
BANK_EXTRA = "ecard.payments.bank"
_LEVEL2_SERVICE = "ecard.cards.level2"


def sms_gateway(platform: Platform) -> SmsGateway:
    """The app's SMS gateway: ``platform.extras[SMS_EXTRA]`` when set (tests), else
    the demo gateway writing to the log and ``instance/sms-outbox.log``."""
    gateway: SmsGateway | None = platform.extras.get(SMS_EXTRA)
    if gateway is None:
        gateway = LogFileSmsGateway(Path(platform.config["INSTANCE_DIR"]))
        platform.extras[SMS_EXTRA] = gateway
    return gateway


def level2_service(platform: Platform) -> Level2Service:
    sms = sms_gateway(platform)
    bank = platform.extras.get(BANK_EXTRA) or DemoBank(
        int(platform.config["PAYMENT_DEMO_FUNDS_FEN"]))
    svc: Level2Service | None = platform.extras.get(_LEVEL2_SERVICE)
    if svc is None or svc.sms is not sms or svc.bank is not bank:
        svc = Level2Service(protector=platform.protector, clock=platform.clock, sms=sms,
                            bank=bank)
        platform.extras[_LEVEL2_SERVICE] = svc
    return svc


@level2_bp.route("/<string:sign_no>/payment/sms", methods=["POST"])
@require_channel
@idempotent_per_channel
@level2_bp.doc(security=CHANNEL_JWT)
@level2_bp.response(200, SmsSentResponse)
def send_sms(sign_no: str) -> dict[str, Any]:
    """Send a one-time code (6 digits, 5 minutes, 5 tries) to the bank-reserved phone
    of the e-card's physical card. At most one a minute; a new code replaces the old."""
    platform = current_platform()
    with platform.db.transaction() as session:
        sent = level2_service(platform).request_sms(session, current_channel_no(), sign_no)
    return asdict(sent)


@level2_bp.route("/<string:sign_no>/payment/enable", methods=["POST"])
@require_channel
@level2_bp.doc(security=CHANNEL_JWT)
@level2_bp.arguments(EnableRequest)
@level2_bp.response(201, EnrolmentResponse)
def enable(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """Confirm the SMS code: the e-card becomes level 2 and the device is enrolled.

    The answer carries the device secret once; it is not kept for Idempotency-Key
    replays (a lost answer means enrolling the device again, which retires this one).
    """
    platform = current_platform()
    with platform.db.transaction() as session:
        enrolment = level2_service(platform).confirm(session, current_channel_no(), sign_no,
                                                     args["sms_code"], args["device_id"])
    body = asdict(enrolment)
    body["device_secret"] = base64.b64encode(body.pop("secret")).decode()
    body["code_format"] = CODE_FORMAT
    return body
