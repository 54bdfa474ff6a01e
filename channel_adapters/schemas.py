"""Request and response shapes of the channel-adapter endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class TicketRequest(Schema):
    ticket = fields.String(required=True, validate=validate.Length(min=1, max=4096),
                           metadata={"description": "The one-time sign-on ticket the "
                                                    "government app signed (JWS, ES256)."})


class H5SessionResponse(Schema):
    session_token = fields.String(metadata={
        "description": "H5S1.… — send as `Authorization: Bearer` (also set as the "
                       "HttpOnly cookie ecard_h5)."})
    expires_at = fields.DateTime()
    channel_no = fields.String()
    openid = fields.String()
    sign_no = fields.String()


class UserLinkRequest(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "The platform's own user id.",
                                      "example": "2088102146225135"})


class UserLinkResponse(Schema):
    channel_no = fields.String()
    sign_no = fields.String()
    openid = fields.String()
    user_id = fields.String()
