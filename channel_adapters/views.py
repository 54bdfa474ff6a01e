"""HTTP endpoints of the channel adapters: government-app single sign-on into the H5
pages, and payment platforms pairing their user ids with our openids."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import request
from flask_smorest import Blueprint

from channel_adapters.gov_app import COOKIE, GovAppAdapter
from channel_adapters.interfaces import SessionInvalid
from channel_adapters.payment_platform import PaymentPlatformAdapter
from channel_adapters.schemas import (
    H5SessionResponse,
    TicketRequest,
    UserLinkRequest,
    UserLinkResponse,
)
from ecard.channels.flask_auth import current_channel, require_channel
from ecard.channels.views import CHANNEL_JWT
from ecard.platform import Platform, current_platform

bp = Blueprint("channel_adapters", __name__, url_prefix="/api/v1",
               description="Channel adapters: government-app sign-on (H5 sessions), "
                           "payment-platform user ids.")

_GOV = "channel_adapters.gov_app"


def gov_app(platform: Platform) -> GovAppAdapter:
    adapter: GovAppAdapter | None = platform.extras.get(_GOV)
    if adapter is None:
        adapter = GovAppAdapter(int(platform.config.get("H5_SESSION_TTL_S", 900)))
        platform.extras[_GOV] = adapter
    return adapter


def _session_body(s: Any) -> dict[str, Any]:
    body = asdict(s)
    body["session_token"] = body.pop("token")
    return body


@bp.route("/h5/sso", methods=["POST"])
@bp.arguments(TicketRequest)
@bp.response(201, H5SessionResponse)
def sso(args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Redeem a government app's one-time ticket for a short H5 session (no channel
    token: the ticket, signed with the channel's key, is the credential)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        h5 = gov_app(platform).redeem(session, platform.clock, platform.protector,
                                      args["ticket"])
    max_age = max(0, int((h5.expires_at - platform.clock.now()).total_seconds()))
    secure = "; Secure" if request.is_secure else ""
    cookie = (f"{COOKIE}={h5.token}; Max-Age={max_age}; Path=/; HttpOnly; "
              f"SameSite=Strict{secure}")
    return _session_body(h5), 201, {"Set-Cookie": cookie, "Cache-Control": "no-store"}


@bp.route("/h5/session")
@bp.response(200, H5SessionResponse)
def h5_session() -> dict[str, Any]:
    """The H5 session of this page (`Authorization: Bearer H5S1.…` or the cookie)."""
    platform = current_platform()
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE, "")
    if not token:
        raise SessionInvalid
    return _session_body(gov_app(platform).check_session(platform.protector,
                                                         platform.clock.now(), token))


@bp.route("/channel-users/<string:sign_no>", methods=["PUT"])
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(UserLinkRequest)
@bp.response(201, UserLinkResponse, description="Linked now.")
@bp.alt_response(200, schema=UserLinkResponse, description="The same pair was linked before.")
def link_user(args: dict[str, Any], sign_no: str) -> tuple[dict[str, Any], int]:
    """A payment platform pairs its own user id with the holder of one of its e-cards;
    its notifications then carry `user_id` beside `openid`."""
    platform = current_platform()
    caller = current_channel()
    with platform.db.transaction() as session:
        link, created = PaymentPlatformAdapter().link_user(
            session, platform.clock, caller.channel_no, caller.type, sign_no, args["user_id"])
    return asdict(link), 201 if created else 200
