"""The e-card API: issue, read, unlink, list channels, credential, PIN.

Views are thin: the schema checks the shape, the service decides, the view owns the
transaction and returns plain data. Every POST honours ``Idempotency-Key``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from ecard.cards.interfaces import CREDENTIAL_TYP, IssueRequest
from ecard.cards.pin import PinService
from ecard.cards.schemas import (
    CardResponse,
    CredentialResponse,
    HoldingsResponse,
    IssueCardRequest,
    IssueCardResponse,
    PinRequest,
    PinVerifiedResponse,
    ResetPinRequest,
    UnlinkRequest,
)
from ecard.cards.services import CardService
from ecard.certification.spending import SpentSession
from ecard.certification.views import certification_service
from ecard.channels.flask_auth import (
    current_channel_no,
    idempotent_per_channel,
    require_channel,
)
from ecard.platform import Platform, current_platform

bp = Blueprint("cards", __name__, url_prefix="/api/v1/cards",
               description="Level-1 e-cards: issuance per channel, unlinking, the PIN, "
                           "signed credentials.")

CHANNEL_JWT: list[dict[str, list[str]]] = [{"channelJWT": []}]
_SERVICE = "ecard.cards.service"


def card_service(platform: Platform) -> CardService:
    """The app's card service (built once: the Argon2 hasher is configuration, not
    request state). Passed liveness sessions come from the certification service."""
    svc: CardService | None = platform.extras.get(_SERVICE)
    if svc is None:
        config = platform.config
        svc = CardService(
            protector=platform.protector, clock=platform.clock,
            pins=PinService(platform.clock), liveness=_Liveness(platform),
            signer=platform.keyring, credential_ttl_s=int(config["CREDENTIAL_TTL_S"]))
        platform.extras[_SERVICE] = svc
    return svc


class _Liveness:
    """The platform's certification service as the cards domain needs it (looked up
    per call: tests may swap the face engine, which rebuilds that service)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def spend(self, session: Session, channel_no: str, session_id: str, person_id: int, *,
              purpose: str) -> SpentSession:
        return certification_service(self.platform).spend(
            session, channel_no, session_id, person_id, purpose=purpose)


@bp.route("", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(IssueCardRequest)
@bp.response(201, IssueCardResponse, description="Issued (first e-card) or relinked.")
@bp.alt_response(200, schema=IssueCardResponse,
                 description="Already issued in this channel: the same e-card.")
def issue(args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Issue a level-1 e-card for this channel's user.

    First e-card of a person: name, ID number, card number, the ``session_id`` of a
    passed liveness session of that person (``POST /certification/sessions`` with
    purpose ``issuance``, then its frames; usable once, for 10 minutes, in the channel
    that started it) as ``certification_session_id``, and a new PIN. A person holding
    an e-card in another channel: the existing PIN instead of the face check
    (relinked).
    """
    platform = current_platform()
    with platform.db.transaction() as session:
        result = card_service(platform).issue_card(session, current_channel_no(),
                                                   IssueRequest(**args))
    body = asdict(result.card) | {"event": result.event}
    return body, 201 if result.created else 200


@bp.route("/<string:sign_no>")
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, CardResponse)
def get_card(sign_no: str) -> dict[str, Any]:
    """One of this channel's e-cards (masked; the status says what the holder can do)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = card_service(platform).get_card(session, current_channel_no(), sign_no)
    return asdict(view)


@bp.route("/<string:sign_no>/unlink", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(UnlinkRequest)
@bp.response(200, CardResponse)
def unlink(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """Unlink the e-card from this channel (needs the PIN); other channels keep theirs."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = card_service(platform).unlink(session, current_channel_no(), sign_no, args["pin"])
    return asdict(view)


@bp.route("/<string:sign_no>/channels")
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, HoldingsResponse)
def channels(sign_no: str) -> dict[str, Any]:
    """The channels where this holder has an active or suspended e-card."""
    platform = current_platform()
    with platform.db.transaction() as session:
        rows = card_service(platform).list_card_channels(session, current_channel_no(), sign_no)
    return {"channels": [asdict(r) for r in rows]}


@bp.route("/<string:sign_no>/credential")
@require_channel
@bp.doc(security=CHANNEL_JWT)
@bp.response(200, CredentialResponse)
def credential(sign_no: str) -> dict[str, Any]:
    """A signed e-card credential (JWS, ES256, ``kid``), verifiable offline."""
    platform = current_platform()
    with platform.db.transaction() as session:
        cred = card_service(platform).issue_credential(session, current_channel_no(), sign_no)
    return {"credential": cred.token, "kid": cred.kid, "typ": CREDENTIAL_TYP,
            "expires_at": cred.expires_at}


@bp.route("/<string:sign_no>/pin/verify", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(PinRequest)
@bp.response(200, PinVerifiedResponse)
def verify_pin(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """Check the holder's PIN (six wrong tries lock it until a face check)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = card_service(platform).verify_pin(session, current_channel_no(), sign_no,
                                                 args["pin"])
    return {"verified": True, "sign_no": view.sign_no}


@bp.route("/<string:sign_no>/pin/reset", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(ResetPinRequest)
@bp.response(200, CardResponse)
def reset_pin(args: dict[str, Any], sign_no: str) -> dict[str, Any]:
    """Set a new PIN (and unlock it) after a passed liveness session of purpose
    ``pin_reset`` (started with this ``sign_no``), sent as ``certification_session_id``."""
    platform = current_platform()
    with platform.db.transaction() as session:
        view = card_service(platform).reset_pin(session, current_channel_no(), sign_no,
                                                args["certification_session_id"],
                                                args["new_pin"])
    return asdict(view)
