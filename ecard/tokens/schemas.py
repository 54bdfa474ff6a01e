"""Request and response shapes of the identity-code API (marshmallow 4).

Shapes only (types, lengths, unknown fields refused); meanings (a known scene, an
attribute the channel may receive) are the service's, which answers the precise
catalogue code (``SCENE_INVALID``, ``ATTRIBUTES_NOT_ALLOWED``).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ecard.tokens.attributes import ATTRIBUTES
from ecard.tokens.qr import MAX_TOKEN_CHARS, SCENES

_SCENE_DOC = "Scene code: " + ", ".join(f"{k} {v}" for k, v in SCENES.items()) + "."
_ATTR_DOC = "Attribute names: " + "; ".join(f"{k} ({v})" for k, v in ATTRIBUTES.items())


class IssueIdentityCodeRequest(Schema):
    scenes = fields.List(
        fields.String(validate=validate.Length(min=1, max=4)),
        load_default=None, validate=validate.Length(min=1, max=4),
        metadata={"description": "Scenes the code may be used in (default: all four). "
                                 + _SCENE_DOC, "example": ["01", "04"]})


class IdentityCodeResponse(Schema):
    code = fields.String(metadata={"description": "The identity code (EC1.…), the text the "
                                                  "QR code carries."})
    kid = fields.String(metadata={"description": "The platform key that signed it (JWKS)."})
    scenes = fields.List(fields.String())
    issued_at = fields.DateTime()
    expires_at = fields.DateTime(metadata={"description": "60 s after issued_at."})
    png_base64 = fields.String(metadata={"description": "The QR code as a PNG, base64."})
    svg = fields.String(metadata={"description": "The QR code as a standalone SVG document."})


class VerifyIdentityCodeRequest(Schema):
    code = fields.String(required=True,
                         validate=validate.Length(min=1, max=MAX_TOKEN_CHARS + 64),
                         metadata={"description": "The scanned identity code (EC1.…)."})
    scene = fields.String(required=True, validate=validate.Length(min=1, max=8),
                          metadata={"description": _SCENE_DOC, "example": "01"})
    attributes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), load_default=None,
        validate=validate.Length(max=len(ATTRIBUTES) + 8),
        metadata={"description": "Attributes wanted; omitted: this channel type's whole "
                                 "entitlement for the scene. More than the entitlement "
                                 "is refused (ATTRIBUTES_NOT_ALLOWED). " + _ATTR_DOC})


class VerifiedIdentityCodeResponse(Schema):
    valid = fields.Boolean()
    scene = fields.String()
    attributes = fields.Dict(keys=fields.String(), metadata={
        "description": "The released attributes, name → value."})
    released = fields.List(fields.String(), metadata={"description": "Their names."})
    issued_at = fields.DateTime()
    expires_at = fields.DateTime()
    redeemed_at = fields.DateTime()


class DisclosuresQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**6))


class DisclosureResponse(Schema):
    channel_no = fields.String(metadata={"description": "The channel that received them."})
    channel_name = fields.String()
    channel_type = fields.String()
    scene = fields.String()
    attributes = fields.List(fields.String())
    disclosed_at = fields.DateTime()
    shown_in_this_channel = fields.Boolean(metadata={
        "description": "Whether the code was shown from this channel's e-card."})


class DisclosuresResponse(Schema):
    disclosures = fields.List(fields.Nested(DisclosureResponse))
