"""Request and response shapes of the e-card API (marshmallow 4).

Shapes are checked here (types, lengths, unknown fields refused); meanings (a valid
ID number, a PIN the rules allow, a passed face check) are checked by the services,
which answer the precise catalogue code.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_SESSION_DOC = ("The session_id of a passed liveness session of this holder, started by "
                "this channel with POST /certification/sessions (purpose {purpose}) and "
                "decided within the last 10 minutes; spent by this call.")


def _certification_session(purpose: str, extra: str = "") -> fields.String:
    return fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                         metadata={"description": _SESSION_DOC.format(purpose=purpose) + extra,
                                   "example": "cs_5kqJ0bq3tYV0pQn2b7W1xRk3"})


class IssueCardRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "The holder's name as registered.",
                                   "example": "张三"})
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32),
                              metadata={"description": "18-character citizen ID number."})
    card_no = fields.String(required=True, validate=validate.Length(min=1, max=16),
                            metadata={"description": "The physical card number (9 letters "
                                                     "or digits)."})
    certification_session_id = _certification_session(
        "issuance", " Needed for a first e-card; not used (not spent) when the holder "
        "already has a PIN and links with it.")
    pin = fields.String(
        load_default=None, validate=validate.Length(min=1, max=32),
        metadata={"description": "First e-card: the new 6-digit PIN (with "
                                 "certification_session_id). Holder of an e-card in another "
                                 "channel: the existing PIN."})


class PinRequest(Schema):
    pin = fields.String(required=True, validate=validate.Length(min=1, max=32),
                        metadata={"description": "The holder's 6-digit e-card PIN."})


class UnlinkRequest(Schema):
    pin = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                        metadata={"description": "The holder's 6-digit e-card PIN."})


class ResetPinRequest(Schema):
    certification_session_id = _certification_session("pin_reset")
    new_pin = fields.String(required=True, validate=validate.Length(min=1, max=32),
                            metadata={"description": "The new 6-digit PIN."})


class CardResponse(Schema):
    sign_no = fields.String(metadata={"description": "签发号: this channel's e-card number."})
    openid = fields.String(metadata={"description": "The holder's pseudonym for this "
                                                    "channel (differs in every channel)."})
    level = fields.Integer()
    status = fields.String(metadata={"description": "active, suspended, revoked or unlinked"})
    status_explanation = fields.String()
    name_masked = fields.String(metadata={"example": "*三"})
    id_masked = fields.String(metadata={"example": "1101**********123X"})
    region = fields.String(metadata={"description": "Issuing region of the physical card."})
    issued_at = fields.DateTime()
    face_score = fields.Float(allow_none=True, metadata={
        "description": "Face distance recorded at issuance: the farthest frame of the "
                       "liveness session from the enrolment photo (lower is closer; the "
                       "threshold is 0.5); null when the e-card was linked with the PIN."})


class IssueCardResponse(CardResponse):
    event = fields.String(metadata={"description": "issued, relinked or already_issued"})


class HoldingResponse(Schema):
    channel_no = fields.String()
    name = fields.String()
    type = fields.String()
    level = fields.Integer(metadata={"description": "The e-card's level in that channel."})
    status = fields.String()
    issued_at = fields.DateTime()
    this_channel = fields.Boolean()


class HoldingsResponse(Schema):
    channels = fields.List(fields.Nested(HoldingResponse))


class CredentialResponse(Schema):
    credential = fields.String(metadata={"description": "A JWS (ES256) to verify offline "
                                                        "with /.well-known/jwks.json."})
    kid = fields.String()
    typ = fields.String()
    expires_at = fields.DateTime()


class PinVerifiedResponse(Schema):
    verified = fields.Boolean()
    sign_no = fields.String()
