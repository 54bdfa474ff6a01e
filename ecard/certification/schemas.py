"""Request and response shapes of the certification and operator APIs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# A 1 MiB frame is about 1.4 MiB in base64; the service enforces the byte limit.
_MAX_FRAME_B64 = 2 * 1024 * 1024


class StartSessionRequest(Schema):
    sign_no = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                            metadata={"description": "This channel's e-card of the person."})
    mode = fields.String(load_default="standard",
                         validate=validate.OneOf(["standard", "elder"]))
    purpose = fields.String(
        load_default="entitlement",
        validate=validate.OneOf(["entitlement", "issuance", "pin_reset"]),
        metadata={"description": "entitlement: the yearly pension certification (needs a "
                                 "benefit recipient and sign_no); issuance: real person "
                                 "before a first e-card (name, id_number, card_no; its "
                                 "session_id goes to POST /cards as "
                                 "certification_session_id); pin_reset: the face check "
                                 "before POST /cards/{sign_no}/pin/reset (sign_no)."})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                         metadata={"description": "Purpose issuance without an e-card yet: "
                                                  "the holder's name, ID and card number."})
    id_number = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    card_no = fields.String(load_default=None, validate=validate.Length(min=1, max=16))


class PromptStep(Schema):
    action = fields.String()
    text = fields.String()
    speak = fields.String()
    hold_s = fields.Float(metadata={"description": "Elder mode: how long to hold."})


class Prompts(Schema):
    intro = fields.String()
    speech_rate = fields.Float()
    countdown = fields.Boolean()
    steps = fields.List(fields.Nested(PromptStep))


class StartSessionResponse(Schema):
    session_id = fields.String()
    nonce = fields.String()
    mode = fields.String()
    purpose = fields.String()
    actions = fields.List(fields.String())
    prompts = fields.Nested(Prompts)
    deadline = fields.DateTime()
    max_frames = fields.Integer()
    max_frame_bytes = fields.Integer()


class FrameUpload(Schema):
    image = fields.String(required=True, validate=validate.Length(min=16, max=_MAX_FRAME_B64),
                          metadata={"description": "JPEG or PNG, base64."})
    captured_at = fields.DateTime(required=True)


class SubmitFramesRequest(Schema):
    frames = fields.List(fields.Nested(FrameUpload), required=True,
                         validate=validate.Length(min=1, max=12))
    mirrored = fields.Boolean(load_default=False, metadata={
        "description": "True when the client mirrored the selfie stream before sending."})


class DecisionResponse(Schema):
    session_id = fields.String()
    passed = fields.Boolean()
    reason = fields.String(allow_none=True)
    reasons = fields.List(fields.String())
    message_zh = fields.String()
    message_en = fields.String()
    mode = fields.String()
    purpose = fields.String()
    scores = fields.Dict()
    next_step = fields.Dict(metadata={"description": "After a failure: elder_mode, "
                                                     "family_assist or appeal (appeal_id)."})
    entitlement = fields.Dict()


class AppealListQuery(Schema):
    status = fields.String(load_default=None,
                           validate=validate.OneOf(["open", "approved", "rejected"]))


class AppealDecisionRequest(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    note = fields.String(load_default=None, validate=validate.Length(max=1000))


class AppealDecisionResponse(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "approved or rejected"})
    decided_by = fields.String(metadata={"description": "The operator's name."})
    decided_at = fields.DateTime()
    spendable_until = fields.DateTime(metadata={
        "description": "Approved issuance or PIN-reset appeals only: until when the "
                       "appeal's session may be spent once, by the channel that started "
                       "it, as certification_session_id."})
    entitlement = fields.Dict(metadata={
        "description": "Approved pension certification only: the recipient's entitlement "
                       "after the pass (status, certified_until, back-pay)."})
