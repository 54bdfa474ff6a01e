"""Marshmallow schemas of the channel endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields

from ecard.channels.models import CHANNEL_STATUSES, CHANNEL_TYPES


class ChannelSelfSchema(Schema):
    channel_no = fields.String(required=True, metadata={"description": "10-digit number",
                                                        "example": "1000000001"})
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"enum": list(CHANNEL_TYPES)})
    level = fields.Integer(required=True,
                           metadata={"description": "1 direct, 2 under a parent channel"})
    parent_no = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": list(CHANNEL_STATUSES)})


class PingSchema(Schema):
    ok = fields.Boolean(required=True)
