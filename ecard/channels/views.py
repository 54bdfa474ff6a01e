"""The channel's own endpoints: who am I, and an authenticated no-op."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from ecard.channels.flask_auth import current_channel, require_channel
from ecard.channels.schemas import ChannelSelfSchema, PingSchema

bp = Blueprint("channels", __name__, url_prefix="/api/v1",
               description="The calling channel (authenticated by its channel JWT).")

CHANNEL_JWT: list[dict[str, list[str]]] = [{"channelJWT": []}]


@bp.route("/channel")
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, ChannelSelfSchema)
def me() -> dict[str, Any]:
    """The calling channel: number, name, type, level and status."""
    caller = current_channel()
    return {"channel_no": caller.channel_no, "name": caller.name, "type": caller.type,
            "level": caller.level, "parent_no": caller.parent_no, "status": caller.status}


@bp.route("/ping", methods=["POST"])
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, PingSchema)
def ping() -> dict[str, bool]:
    """Authenticated no-op: checks a channel's signing set-up end to end."""
    return {"ok": True}
