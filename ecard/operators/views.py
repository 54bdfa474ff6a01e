"""The operator API: appeals and the faces behind them (every image view audited)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from ecard.certification import appeals
from ecard.certification.schemas import (
    AppealDecisionRequest,
    AppealDecisionResponse,
    AppealListQuery,
)
from ecard.operators.flask_auth import current_operator, require_operator
from ecard.platform import current_platform

bp = Blueprint("operator", __name__, url_prefix="/api/v1/operator",
               description="For platform operators (Authorization: Bearer op_…): review "
                           "appeals beside the enrolment photo.")

OPERATOR_TOKEN: list[dict[str, list[str]]] = [{"operatorToken": []}]


def _image(data: bytes, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/appeals")
@require_operator
@bp.doc(security=OPERATOR_TOKEN)
@bp.arguments(AppealListQuery, location="query")
def list_appeals(args: dict[str, Any]) -> dict[str, Any]:
    """Appeals, newest first (``status`` open, approved or rejected)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        return {"appeals": appeals.list_appeals(session, args.get("status"))}


@bp.route("/appeals/<int:appeal_id>")
@require_operator
@bp.doc(security=OPERATOR_TOKEN)
def get_appeal(appeal_id: int) -> dict[str, Any]:
    """An appeal's metadata: the person (masked), the day's attempts with scores, the
    kept frames (hashes and distances; the images are separate, audited reads)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        return appeals.appeal_detail(session, appeal_id)


@bp.route("/appeals/<int:appeal_id>/frames/<int:n>")
@require_operator
@bp.doc(security=OPERATOR_TOKEN)
def get_frame(appeal_id: int, n: int) -> Response:
    """One kept frame (image bytes); the view is audited with the operator as actor."""
    platform = current_platform()
    with platform.db.transaction() as session:
        data, mimetype = appeals.view_frame(session, platform.protector, platform.clock,
                                            current_operator(), appeal_id, n)
    return _image(data, mimetype)


@bp.route("/appeals/<int:appeal_id>/enrolment-photo")
@require_operator
@bp.doc(security=OPERATOR_TOKEN)
def get_enrolment_photo(appeal_id: int) -> Response:
    """The person's enrolment photo (image bytes); audited like a frame."""
    platform = current_platform()
    with platform.db.transaction() as session:
        data, mimetype = appeals.view_enrolment_photo(session, platform.protector,
                                                      platform.clock, current_operator(),
                                                      appeal_id)
    return _image(data, mimetype)


@bp.route("/appeals/<int:appeal_id>/decision", methods=["POST"])
@require_operator
@bp.doc(security=OPERATOR_TOKEN)
@bp.arguments(AppealDecisionRequest)
@bp.response(200, AppealDecisionResponse)
def decide(args: dict[str, Any], appeal_id: int) -> dict[str, Any]:
    """Approve or reject an open appeal. Approval counts as a pass: for the entitlement,
    or (issuance, PIN reset) the session becomes spendable until ``spendable_until``."""
    platform = current_platform()
    with platform.db.transaction() as session:
        return appeals.decide_appeal(session, platform.clock, current_operator(), appeal_id,
                                     args["decision"], args.get("note"),
                                     int(platform.config["CERTIFICATION_UTC_OFFSET_MIN"]),
                                     int(platform.config["CERTIFICATION_APPEAL_SPEND_WINDOW_S"]))
