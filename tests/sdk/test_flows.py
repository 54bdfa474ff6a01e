"""Whole flows through the SDK over HTTP: level 2 and payments (code, PIN-confirmed,
merchant-presented, refund), identity codes online and offline, the e-card calls."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from ecard_sdk import EcardClient, PaymentCodeGenerator
from ecard_sdk.errors import ConflictError, InvalidRequestError

from ecard.clock import FrozenClock
from ecard.payments.sms import CapturingSmsGateway
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN
from tests.support.payments import HOLDER_CH, MERCHANT, Card, last_code


def enrol(holder: EcardClient, sms: CapturingSmsGateway, card: Card,
          clock: FrozenClock) -> PaymentCodeGenerator:
    sent = holder.payments.request_sms(card.sign_no)
    assert sent.phone_masked == "138****8000"
    enrolment = holder.payments.enable(card.sign_no, sms_code=last_code(sms),
                                       device_id="phone-1")
    assert enrolment.level == 2 and enrolment.device_secret
    return PaymentCodeGenerator.from_enrolment(enrolment,
                                               clock=lambda: clock.now().timestamp())


def test_medical_bill(holder: EcardClient, merchant: EcardClient, sms: CapturingSmsGateway,
                      card: Card, clock: FrozenClock, platform: Platform) -> None:
    platform.config["MEDICAL_POLICIES"] = "11=8500:10000:30000"
    device = enrol(holder, sms, card, clock)
    paid = merchant.payments.create(code=device.now(), amount_fen=30000, order_id="HIS-M1",
                                    medical={"insured_region": "110101",
                                             "self_funded_fen": 2000, "class_b_self_fen": 1000})
    assert (paid.medical.fund_fen, paid.medical.cash_fen) == (14450, 15550)
    refund = merchant.refunds.create(paid.payment_id, amount_fen=30000, refund_id="R-M1")
    assert refund.medical.fund_fen == 14450 and refund.payment.medical.cash_refunded_fen == 15550


def test_payment_code_flow(holder: EcardClient, merchant: EcardClient,
                           sms: CapturingSmsGateway, card: Card, clock: FrozenClock) -> None:
    device = enrol(holder, sms, card, clock)
    code = device.now()
    paid = merchant.payments.create(code=code, amount_fen=1250, order_id="HIS-0001")
    assert (paid.status, paid.amount_fen, paid.merchant_no) == ("captured", 1250, MERCHANT)
    assert merchant.payments.retrieve(paid.payment_id).status == "captured"
    # the same order again is the same payment (idempotent on order_id)
    again = merchant.payments.create(code=code, amount_fen=1250, order_id="HIS-0001")
    assert again.payment_id == paid.payment_id
    with pytest.raises(ConflictError) as used:
        merchant.payments.create(code=code, amount_fen=1250, order_id="HIS-0002")
    assert used.value.code == "PAYMENT_CODE_USED"
    refund = merchant.refunds.create(paid.payment_id, amount_fen=250, refund_id="R-1")
    assert refund.payment.status == "partially_refunded" and refund.payment.refunded_fen == 250
    with pytest.raises(InvalidRequestError) as over:
        merchant.refunds.create(paid.payment_id, amount_fen=5000, refund_id="R-2")
    assert over.value.code == "REFUND_EXCEEDS_CAPTURED"

    # above the no-PIN limit: pending until the holder confirms with the PIN
    clock.advance(seconds=30)
    big = merchant.payments.create(code=device.now(), amount_fen=50_000, order_id="HIS-0003")
    assert big.status == "pending_pin"
    pending = holder.payments.list_pending(card.sign_no).payments
    assert [p.payment_id for p in pending] == [big.payment_id]
    with pytest.raises(InvalidRequestError) as wrong:
        holder.payments.confirm(card.sign_no, big.payment_id, pin="730518")
    assert wrong.value.code == "PIN_WRONG"
    done = holder.payments.confirm(card.sign_no, big.payment_id, pin=GOOD_PIN)
    assert done.status == "captured"
    assert holder.payments.list_pending(card.sign_no).payments == []


def test_merchant_presented_order(holder: EcardClient, merchant: EcardClient,
                                  sms: CapturingSmsGateway, card: Card,
                                  clock: FrozenClock) -> None:
    enrol(holder, sms, card, clock)
    order = merchant.merchant_orders.create(order_id="POS-1", amount_fen=800)
    assert order.status == "open" and base64.b64decode(order.qr_png)[:4] == b"\x89PNG"
    seen = holder.merchant_orders.lookup(card.sign_no, order.order_token)
    assert (seen.amount_fen, seen.merchant_name) == (800, "示例医院")
    paid = holder.merchant_orders.pay(card.sign_no, order.order_token, pin=GOOD_PIN)
    assert paid.status == "captured" and paid.kind == "order"
    # paying again (a double tap) answers the same payment: nothing moves twice
    again = holder.merchant_orders.pay(card.sign_no, order.order_token, pin=GOOD_PIN)
    assert again.payment_id == paid.payment_id
    assert merchant.payments.retrieve(paid.payment_id).amount_fen == 800


def test_identity_code_online_and_offline(holder: EcardClient, merchant: EcardClient,
                                          card: Card) -> None:
    shown = holder.identity_codes.create(card.sign_no, scenes=["01", "04"])
    assert shown.code.startswith("EC1.") and shown.scenes == ["01", "04"]
    assert base64.b64decode(shown.png_base64)[:4] == b"\x89PNG"
    # a terminal verifies it with no network once it holds the JWKS and status list
    verifier = merchant.offline_verifier()
    result = verifier.verify(shown.code, scene="01")
    assert result.ok and result.claims is not None and result.claims.channel_no == HOLDER_CH
    assert verifier.verify(shown.code, scene="02").reason == "wrong_scene"
    with pytest.raises(InvalidRequestError) as scene:
        merchant.identity_codes.verify(shown.code, "02")
    assert scene.value.code == "CODE_SCENE_MISMATCH"
    seen = merchant.identity_codes.verify(shown.code, "01", attributes=["name", "gender"])
    assert seen.valid and sorted(seen.released) == ["gender", "name"]
    assert seen.attributes.name == "张三"
    with pytest.raises(ConflictError) as again:
        merchant.identity_codes.verify(shown.code, "01")
    assert again.value.code == "CODE_ALREADY_REDEEMED"
    releases = holder.cards.disclosures(card.sign_no, limit=10).disclosures
    assert [(d.channel_no, d.scene, d.attributes) for d in releases] == \
        [(MERCHANT, "01", ["gender", "name"])]


def test_card_calls(holder: EcardClient, card: Card) -> None:
    got = holder.cards.retrieve(card.sign_no)
    assert (got.sign_no, got.status, got.level, got.id_masked[:4]) == \
        (card.sign_no, "active", 1, "1101")
    held: list[Any] = holder.cards.list_channels(card.sign_no).channels
    assert [(c.channel_no, c.this_channel) for c in held] == [(HOLDER_CH, True)]
    credential = holder.cards.credential(card.sign_no)
    assert credential.credential.count(".") == 2 and credential.kid
    assert holder.cards.verify_pin(card.sign_no, GOOD_PIN).verified is True
    assert holder.cards.unlink(card.sign_no, pin=GOOD_PIN).status == "unlinked"
    with pytest.raises(ConflictError):
        holder.identity_codes.create(card.sign_no)
