"""Request and response shapes of the e-card API (marshmallow 4).

Shapes are checked here (types, lengths, unknown fields refused); meanings (a valid
ID number, a PIN the rules allow, a face in the photo) are checked by the services,
which answer the precise catalogue code.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# A 5 MiB photo is about 7 MiB in base64; the service enforces MAX_IMAGE_BYTES.
_MAX_IMAGE_B64 = 8 * 1024 * 1024


_FACE_DOC = {"description": "A JPEG or PNG photo of the holder's face, base64 (a data: "
                          "URL prefix is accepted)."}


def _face(required: bool) -> fields.String:
    length = validate.Length(min=16, max=_MAX_IMAGE_B64)
    if required:
        return fields.String(required=True, validate=length, metadata=_FACE_DOC)
    return fields.String(load_default=None, validate=length, metadata=_FACE_DOC)


class IssueCardRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "The holder's name as registered.",
                                   "example": "张三"})
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32),
                              metadata={"description": "18-character citizen ID number."})
    card_no = fields.String(required=True, validate=validate.Length(min=1, max=16),
                            metadata={"description": "The physical card number (9 letters "
                                                     "or digits)."})
    face_image = _face(required=False)
    pin = fields.String(
        load_default=None, validate=validate.Length(min=1, max=32),
        metadata={"description": "First e-card: the new 6-digit PIN (with face_image). "
                                 "Holder of an e-card in another channel: the existing PIN."})


class PinRequest(Schema):
    pin = fields.String(required=True, validate=validate.Length(min=1, max=32),
                        metadata={"description": "The holder's 6-digit e-card PIN."})


class UnlinkRequest(Schema):
    pin = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                        metadata={"description": "The holder's 6-digit e-card PIN."})


class ResetPinRequest(Schema):
    face_image = _face(required=True)
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
        "description": "Face distance recorded at issuance (lower is closer); null when "
                       "the e-card was linked with the PIN."})


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
