"""Request and response shapes of level 2 and payments (marshmallow 4)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from ecard.payments.interfaces import SCENES
from ecard.payments.medical import MedicalBill

_ORDER_ID = validate.Regexp(r"^[0-9A-Za-z_\-.:]{1,64}$",
                            error="1 to 64 letters, digits or _-.: characters")
_AMOUNT = validate.Range(min=1, max=10**12)
_SCENE_DOC = {"description": "Scene code: 01 query, 02 payment, 03 other, "
                             "04 cross-region medical.", "example": "02"}
_PIN = {"description": "The holder's 6-digit e-card PIN."}


class SmsSentResponse(Schema):
    sign_no = fields.String()
    phone_masked = fields.String(metadata={"example": "138****8000"})
    expires_at = fields.DateTime()
    resend_after_s = fields.Integer()


class EnableRequest(Schema):
    sms_code = fields.String(required=True, validate=validate.Length(min=1, max=16),
                             metadata={"description": "The 6-digit code sent by SMS."})
    device_id = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9A-Za-z_\-.:]{1,64}$"),
        metadata={"description": "The channel's stable id for the holder's device; "
                                 "enrolling it again retires its old secret."})


class CodeFormat(Schema):
    digits = fields.Integer()
    prefix = fields.String()
    slot_digits = fields.Integer()
    mac_digits = fields.Integer()
    step_s = fields.Integer()
    algorithm = fields.String()
    window_steps = fields.Integer()


class EnrolmentResponse(Schema):
    sign_no = fields.String()
    level = fields.Integer()
    payment_enabled = fields.Boolean(metadata={
        "description": "True when this call raised the e-card to level 2."})
    device_id = fields.String()
    device_slot = fields.Integer()
    device_secret = fields.String(metadata={
        "description": "base64 of the 32-byte device secret: shown once, never again. "
                       "Keep it in the device's secure storage."})
    retired_slots = fields.List(fields.Integer())
    account_balance_fen = fields.Integer()
    code_format = fields.Nested(CodeFormat)


_FEN = validate.Range(min=0, max=10**12)


class MedicalBillRequest(Schema):
    insured_region = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9]{6}$", error="6 digits"),
        metadata={"description": "Where the patient is insured (参保地): its policy applies.",
                  "example": "440300"})
    self_funded_fen = fields.Integer(load_default=0, strict=True, validate=_FEN, metadata={
        "description": "Items outside the insurance catalogue (全自费), as the HIS summed them."})
    class_b_self_fen = fields.Integer(load_default=0, strict=True, validate=_FEN, metadata={
        "description": "The patient's first share of class-B items (乙类先行自付)."})
    filed = fields.Boolean(load_default=True, metadata={
        "description": "Scene 04: treatment elsewhere was filed (已备案); unfiled lowers "
                       "the fund's ratio."})
    personal_account_balance_fen = fields.Integer(
        load_default=0, strict=True, validate=_FEN, metadata={
            "description": "The personal account (个人账户) balance the insurer reported."})

    @post_load
    def to_bill(self, data: dict[str, Any], **_kw: Any) -> MedicalBill:
        return MedicalBill(**data)


class MedicalSplitResponse(Schema):
    insured_region = fields.String()
    scene = fields.String()
    filed = fields.Boolean()
    policy_year = fields.Integer()
    total_fen = fields.Integer()
    self_funded_fen = fields.Integer()
    class_b_self_fen = fields.Integer()
    eligible_fen = fields.Integer()
    deductible_paid_fen = fields.Integer()
    ratio_bp = fields.Integer()
    fund_fen = fields.Integer(metadata={"description": "Paid by the insurance fund (统筹)."})
    personal_account_fen = fields.Integer(metadata={"description": "个人账户"})
    cash_fen = fields.Integer(metadata={"description": "现金/自付"})
    holder_fen = fields.Integer(metadata={
        "description": "What the holder's account paid: personal account + cash."})
    fund_refunded_fen = fields.Integer()
    personal_account_refunded_fen = fields.Integer()
    cash_refunded_fen = fields.Integer()


class RedeemRequest(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "The 18-digit payment code scanned."})
    amount_fen = fields.Integer(required=True, strict=True, validate=_AMOUNT)
    currency = fields.String(load_default="CNY", validate=validate.Length(equal=3))
    order_id = fields.String(required=True, validate=_ORDER_ID)
    scene = fields.String(load_default="02", validate=validate.OneOf(SCENES),
                          metadata=_SCENE_DOC)
    medical = fields.Nested(MedicalBillRequest, load_default=None, metadata={
        "description": "Medical channels only: settle the bill with the insurance fund "
                       "(scene 02 or 04); the holder pays the patient's share."})


class PaymentResponse(Schema):
    payment_id = fields.String()
    merchant_no = fields.String()
    order_id = fields.String()
    amount_fen = fields.Integer()
    currency = fields.String()
    scene = fields.String()
    kind = fields.String(metadata={"description": "code (付款码) or order (主扫)"})
    status = fields.String(metadata={"description": "pending_pin, captured, failed, "
                                                    "partially_refunded or refunded"})
    refunded_fen = fields.Integer()
    sign_no = fields.String(metadata={"description": "Shown to the holder's channel only."})
    device_slot = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    captured_at = fields.DateTime(allow_none=True)
    confirm_before = fields.DateTime(allow_none=True)
    failure_code = fields.String(allow_none=True)
    medical = fields.Nested(MedicalSplitResponse, allow_none=True)


class PaymentListResponse(Schema):
    payments = fields.List(fields.Nested(PaymentResponse))


class ConfirmRequest(Schema):
    pin = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata=_PIN)


class RefundRequest(Schema):
    amount_fen = fields.Integer(required=True, strict=True, validate=_AMOUNT)
    refund_id = fields.String(required=True, validate=_ORDER_ID)


class RefundPartsResponse(Schema):
    fund_fen = fields.Integer()
    personal_account_fen = fields.Integer()
    cash_fen = fields.Integer()


class RefundResponse(Schema):
    refund_id = fields.String()
    payment_id = fields.String()
    amount_fen = fields.Integer()
    created_at = fields.DateTime()
    payment = fields.Nested(PaymentResponse)
    medical = fields.Nested(RefundPartsResponse, allow_none=True, metadata={
        "description": "A medical bill's refund by part (fund, personal account, cash)."})


class OrderRequest(Schema):
    order_id = fields.String(required=True, validate=_ORDER_ID)
    amount_fen = fields.Integer(required=True, strict=True, validate=_AMOUNT)
    currency = fields.String(load_default="CNY", validate=validate.Length(equal=3))
    scene = fields.String(load_default="02", validate=validate.OneOf(SCENES),
                          metadata=_SCENE_DOC)


class OrderResponse(Schema):
    order_token = fields.String(metadata={"description": "What the QR code carries."})
    merchant_no = fields.String()
    merchant_name = fields.String()
    order_id = fields.String()
    amount_fen = fields.Integer()
    currency = fields.String()
    scene = fields.String()
    status = fields.String(metadata={"description": "open, paid or expired"})
    payment_id = fields.String(allow_none=True)
    expires_at = fields.DateTime()
    qr_png = fields.String(metadata={"description": "base64 PNG of the order QR code "
                                                    "(merchant only)."})


class OrderLookupRequest(Schema):
    order_token = fields.String(required=True, validate=validate.Length(min=1, max=64))


class OrderPayRequest(Schema):
    order_token = fields.String(required=True, validate=validate.Length(min=1, max=64))
    pin = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata=_PIN)
