"""Request and response shapes of the H5 link API (channels) and of the page's own
JSON endpoints (validated here too, though they stay out of the OpenAPI document)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# A frame is at most CERTIFICATION_MAX_FRAME_BYTES (1 MiB): about 1.4 MiB in base64.
_MAX_FRAME_B64 = 2 * 1024 * 1024


class H5LinkRequest(Schema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=40),
                               metadata={"description": "An open certification session "
                                                        "this channel started."})
    return_url = fields.Url(load_default=None, schemes={"http", "https"}, require_tld=False,
                            validate=validate.Length(max=512),
                            metadata={"description": "Where the page's 'back' button goes "
                                      "(with ?session_id=…&result=passed|failed"
                                      "[&next_step=…]); http(s) only."})


class H5LinkResponse(Schema):
    url = fields.String(metadata={"description": "Absolute page URL (ECARD_PUBLIC_URL); "
                                  "the token is in the fragment (#t=…)."})
    path = fields.String()
    expires_at = fields.DateTime(metadata={"description": "The session's deadline."})


class PageFrame(Schema):
    image = fields.String(required=True, validate=validate.Length(min=16, max=_MAX_FRAME_B64))
    captured_at = fields.DateTime(required=True)


class PageFrames(Schema):
    frames = fields.List(fields.Nested(PageFrame), required=True,
                         validate=validate.Length(min=1, max=64))
