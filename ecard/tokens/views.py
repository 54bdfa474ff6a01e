"""The platform's public keys, and the identity-code API: issue (亮码), verify online,
the status list for offline terminals, and the holder's disclosures.

Thin views: the schema checks the shape, the service decides, the view owns the
transaction. Every POST honours ``Idempotency-Key``: a retried verification gets the
first answer back instead of ``CODE_ALREADY_REDEEMED``.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify
from flask_smorest import Blueprint as ApiBlueprint

from ecard.channels.flask_auth import (
    current_channel,
    current_channel_no,
    idempotent_per_channel,
    require_channel,
)
from ecard.platform import Platform, current_platform
from ecard.tokens.identity import IdentityCodeService
from ecard.tokens.publish import StatusListPublisher
from ecard.tokens.render import render_png, render_svg
from ecard.tokens.schemas import (
    DisclosuresQuery,
    DisclosuresResponse,
    IdentityCodeResponse,
    IssueIdentityCodeRequest,
    VerifiedIdentityCodeResponse,
    VerifyIdentityCodeRequest,
)
from ecard.tokens.statuslist import TYP as STATUS_LIST_TYP

well_known = Blueprint("well_known", __name__)
bp = ApiBlueprint("keys", __name__, url_prefix="/api/v1",
                  description="The platform's public signing keys.")


@well_known.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The JWKS every verifier caches (credentials, identity QR codes, callbacks)."""
    response = jsonify(current_platform().keyring.jwks())
    # Verifiers may cache for five minutes; a rotated key is published before use.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/health")
@bp.response(200)
def health() -> dict[str, str]:
    """Liveness: the process answers (no authentication)."""
    return {"status": "ok"}

identity_bp = ApiBlueprint("identity", __name__, url_prefix="/api/v1",
               description="Identity codes (亮码): issue for the holder, verify online with "
                           "a scene code, the signed status list for offline terminals, "
                           "and the holder's list of attribute releases.")

CHANNEL_JWT: list[dict[str, list[str]]] = [{"channelJWT": []}]
_SERVICE = "ecard.tokens.identity"
_PUBLISHER = "ecard.tokens.status_list"


def identity_service(platform: Platform) -> IdentityCodeService:
    svc: IdentityCodeService | None = platform.extras.get(_SERVICE)
    if svc is None:
        svc = IdentityCodeService(keys=platform.keyring, protector=platform.protector,
                                  clock=platform.clock)
        platform.extras[_SERVICE] = svc
    return svc


def status_list_publisher(platform: Platform) -> StatusListPublisher:
    publisher: StatusListPublisher | None = platform.extras.get(_PUBLISHER)
    if publisher is None:
        publisher = StatusListPublisher(platform.db, platform.keyring, platform.clock)
        platform.extras[_PUBLISHER] = publisher
    return publisher


@identity_bp.route("/cards/<string:sign_no>/identity-code", methods=["POST"])
@require_channel
@idempotent_per_channel
@identity_bp.doc(security=CHANNEL_JWT)
@identity_bp.arguments(IssueIdentityCodeRequest)
@identity_bp.response(201, IdentityCodeResponse)
def issue_identity_code(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """A fresh identity code for one of this channel's active e-cards.

    Valid 60 s, redeemable online once, verifiable offline with the JWKS and the
    status list. Returns the text, a PNG (base64) and an SVG of the QR code. A
    suspended or revoked e-card gets ``ECARD_SUSPENDED`` / ``ECARD_REVOKED``.
    """
    platform = current_platform()
    with platform.db.transaction() as session:
        issued = identity_service(platform).issue(session, current_channel_no(), sign_no,
                                                  args["scenes"])
    return asdict(issued) | {
        "png_base64": base64.b64encode(render_png(issued.code)).decode("ascii"),
        "svg": render_svg(issued.code, title="电子社保卡 / e-card"),
    }


@identity_bp.route("/identity-codes/verify", methods=["POST"])
@require_channel
@idempotent_per_channel
@identity_bp.doc(security=CHANNEL_JWT)
@identity_bp.arguments(VerifyIdentityCodeRequest)
@identity_bp.response(200, VerifiedIdentityCodeResponse)
def verify_identity_code(args: dict[str, Any]) -> dict[str, Any]:
    """Verify a scanned identity code online and redeem it (once).

    Checks the signature and expiry, that the code was shown for this scene, that the
    e-card is active now, and releases only what the scanning channel's type may
    receive in the scene (``attributes`` narrows it; asking for more is refused and
    releases nothing). Each release is recorded for the holder to see.
    """
    platform = current_platform()
    caller = current_channel()
    with platform.db.transaction() as session:
        verified = identity_service(platform).verify(
            session, channel_no=caller.channel_no, channel_type=caller.type,
            code=args["code"], scene=args["scene"], attributes=args["attributes"])
    return asdict(verified) | {"valid": True}


@identity_bp.route("/status-list")
@identity_bp.response(200, description="The signed status list (a compact JWT, "
                              f"``typ: {STATUS_LIST_TYP}``), body ``application/"
                              "statuslist+jwt``.")
def status_list() -> Response:
    """The signed revocation status list offline terminals cache (no authentication).

    One bit per e-card index: set for suspended, revoked and unlinked e-cards. Rebuilt
    at most every 60 s (``ttl``), valid 300 s (``exp``); ``Cache-Control`` says how long
    this answer stays current. Worst case for a lost card to reach an offline terminal
    that fetches every 60 s: 60 s (rebuild) + 60 s (fetch) + 60 s (a code's life) =
    180 s; codes stop sooner, since no new code is issued after the loss.
    """
    published = status_list_publisher(current_platform()).current()
    now = current_platform().clock.now().timestamp()
    response = Response(published.token, mimetype="application/statuslist+jwt")
    response.headers["Cache-Control"] = f"public, max-age={published.max_age_at(now)}"
    return response


@identity_bp.route("/cards/<string:sign_no>/disclosures")
@require_channel
@identity_bp.doc(security=CHANNEL_JWT)
@identity_bp.arguments(DisclosuresQuery, location="query")
@identity_bp.response(200, DisclosuresResponse)
def disclosures(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """Which channel received which of the holder's attributes, in which scene, when
    (newest first; every e-card of the holder)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        rows = identity_service(platform).list_disclosures(
            session, current_channel_no(), sign_no, limit=args["limit"], offset=args["offset"])
    return {"disclosures": [asdict(r) for r in rows]}
