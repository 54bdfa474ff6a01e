"""The certification API for channels: start a session, send its frames."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from ecard.certification.prompts import STANDARD
from ecard.certification.schemas import (
    DecisionResponse,
    StartSessionRequest,
    StartSessionResponse,
    SubmitFramesRequest,
)
from ecard.certification.services import CertificationService, StartRequest, UploadedFrame
from ecard.channels.flask_auth import (
    current_channel_no,
    idempotent_per_channel,
    require_channel,
)
from ecard.faces.images import decode_base64_image
from ecard.platform import Platform, current_platform

bp = Blueprint("certification", __name__, url_prefix="/api/v1/certification",
               description="Remote face certification (待遇资格认证): a challenge of random "
                           "actions, then the frames; pass or fail with a reason and scores.")

CHANNEL_JWT: list[dict[str, list[str]]] = [{"channelJWT": []}]
_SERVICE = "ecard.certification.service"
RNG_KEY = "ecard.certification.rng"


def certification_service(platform: Platform) -> CertificationService:
    svc: CertificationService | None = platform.extras.get(_SERVICE)
    rng = platform.extras.get(RNG_KEY)
    if svc is None or svc.engine is not platform.faces or (rng is not None
                                                           and svc.rng is not rng):
        c = platform.config
        svc = CertificationService(
            protector=platform.protector, clock=platform.clock, engine=platform.faces,
            threshold=float(c["FACE_THRESHOLD_CERTIFICATION"]),
            max_frames=int(c["CERTIFICATION_MAX_FRAMES"]),
            max_frame_bytes=int(c["CERTIFICATION_MAX_FRAME_BYTES"]),
            utc_offset_min=int(c["CERTIFICATION_UTC_OFFSET_MIN"]), rng=rng,
            appeal_spend_window_s=int(c["CERTIFICATION_APPEAL_SPEND_WINDOW_S"]))
        platform.extras[_SERVICE] = svc
    return svc


@bp.route("/sessions", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(StartSessionRequest)
@bp.response(201, StartSessionResponse)
def start(args: dict[str, Any]) -> dict[str, Any]:
    """Start a session: the nonce, the actions, the prompts (text and speech), the
    deadline. ``mode`` standard (2-3 actions, 60 s) or elder (1 action, 300 s)."""
    platform = current_platform()
    req = StartRequest(mode=args.get("mode") or STANDARD,
                       purpose=args.get("purpose") or "entitlement",
                       sign_no=args.get("sign_no"), name=args.get("name"),
                       id_number=args.get("id_number"), card_no=args.get("card_no"))
    with platform.db.transaction() as session:
        return certification_service(platform).start(session, current_channel_no(), req)


@bp.route("/sessions/<string:session_id>/frames", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(SubmitFramesRequest)
@bp.response(200, DecisionResponse)
def frames(args: dict[str, Any], session_id: str) -> dict[str, Any]:
    """Send the session's frames (once, before the deadline) and get the decision:
    ``passed``, the ``reason`` with its message, the ``scores`` and, after a failure,
    the ``next_step``."""
    platform = current_platform()
    uploads = [UploadedFrame(decode_base64_image(f["image"]), f["captured_at"])
               for f in args["frames"]]
    return certification_service(platform).submit(
        platform.db, current_channel_no(), session_id, uploads, mirrored=bool(args.get("mirrored")))
