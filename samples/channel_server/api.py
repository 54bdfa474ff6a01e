"""The JSON API the sample app's phone client calls: one user, one e-card.

A real app authenticates its user (its own login) before any of this; the sample
trusts the username in the path and listens on loopback only. Every call turns into
one or two SDK calls; the platform's error codes come back unchanged (``app.py``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime
from typing import Any

from ecard_sdk import EcardClient, PaymentCodeGenerator
from ecard_sdk.qr import render_png
from flask import Blueprint, Response, current_app, jsonify, request

from samples.channel_server.errors import LocalError
from samples.channel_server.store import Claim, Store, User

bp = Blueprint("api", __name__, url_prefix="/api")


def _client() -> EcardClient:
    client: EcardClient = current_app.extensions["sample"]["client"]
    return client


def _store() -> Store:
    store: Store = current_app.extensions["sample"]["store"]
    return store


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and request.get_data():
        raise LocalError(400, "BODY_INVALID", "the body must be a JSON object")
    if data is not None and not isinstance(data, dict):
        raise LocalError(400, "BODY_INVALID", "the body must be a JSON object")
    return data or {}


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise LocalError(400, "FIELD_MISSING", f"{name} is required")
    return value


def _user(username: str) -> User:
    user = _store().user(username)
    if user is None:
        raise LocalError(404, "USER_NOT_FOUND", f"no user {username!r} in this app")
    return user


def _sign_no(username: str) -> str:
    user = _user(username)
    if not user.sign_no:
        raise LocalError(409, "NO_ECARD", "this user has not claimed an e-card in this app")
    return user.sign_no


def _frames(data: dict[str, Any]) -> list[tuple[bytes, datetime]]:
    """The captured frames of the phone: [{image: base64, captured_at: ISO 8601}]."""
    raw = data.get("frames")
    if not isinstance(raw, list) or not raw:
        raise LocalError(400, "FIELD_MISSING", "frames is required")
    out = []
    for i, frame in enumerate(raw):
        try:
            out.append((base64.b64decode(frame["image"], validate=True),
                        datetime.fromisoformat(frame["captured_at"])))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise LocalError(400, "FRAME_INVALID",
                             f"frame {i}: image (base64) and captured_at (ISO 8601) "
                             "are required") from exc
    return out


def qr_png_base64(text: str) -> str:
    return base64.b64encode(render_png(text)).decode()


@bp.post("/users")
def create_user() -> tuple[Response, int]:
    username = _field(_body(), "username")
    if not (1 <= len(username) <= 64 and username.replace("_", "").replace("-", "").isalnum()):
        raise LocalError(400, "USERNAME_INVALID", "1-64 letters, digits, _ or -")
    if not _store().create_user(username):
        raise LocalError(409, "USER_EXISTS", f"{username!r} is taken")
    return jsonify(_user(username).public()), 201


@bp.get("/users/<username>")
def show_user(username: str) -> Response:
    user = _user(username)
    out = user.public()
    if user.sign_no and user.card_status != "unlinked":
        out["ecard"] = _client().cards.retrieve(user.sign_no)
    return jsonify(out)


# -- claiming an e-card: liveness session of purpose issuance, then issue -----
@bp.post("/users/<username>/claim/start")
def claim_start(username: str) -> tuple[Response, int]:
    _user(username)
    data = _body()
    name, id_number, card_no = (_field(data, k) for k in ("name", "id_number", "card_no"))
    session = _client().certification.start(purpose="issuance", mode=data.get("mode",
                                                                              "standard"),
                                             name=name, id_number=id_number, card_no=card_no)
    _store().start_claim(Claim(session["session_id"], username, name, id_number, card_no))
    return jsonify(session), 201


@bp.post("/users/<username>/claim/<session_id>/frames")
def claim_frames(username: str, session_id: str) -> Response:
    _claim(username, session_id)
    data = _body()
    decision = _client().certification.submit(session_id, frames=_frames(data),
                                              mirrored=bool(data.get("mirrored", False)))
    return jsonify(decision)


@bp.post("/users/<username>/claim/<session_id>/issue")
def claim_issue(username: str, session_id: str) -> tuple[Response, int]:
    claim = _claim(username, session_id)
    pin = _field(_body(), "pin")
    card = _client().cards.issue(name=claim.name, id_number=claim.id_number,
                                 card_no=claim.card_no, pin=pin,
                                 certification_session_id=session_id)
    _not_held_by_another(username, card["sign_no"])
    _store().finish_claim(session_id, username, card["sign_no"])
    return jsonify(card), 201


def _not_held_by_another(username: str, sign_no: str) -> None:
    """The platform answers ``already_issued`` with the e-card this channel holds for
    that person: in this app it belongs to one user account only."""
    holder = _store().holder_of(sign_no)
    if holder is not None and holder != username:
        raise LocalError(409, "ECARD_HELD_BY_ANOTHER_USER",
                         "this e-card is already linked to another account of this app")


def _claim(username: str, session_id: str) -> Claim:
    claim = _store().claim(session_id, username)
    if claim is None:
        raise LocalError(404, "CLAIM_NOT_FOUND", "no claim in progress with this session")
    return claim


@bp.post("/users/<username>/relink")
def relink(username: str) -> tuple[Response, int]:
    """A holder who already has an e-card (and a PIN) elsewhere: the PIN suffices."""
    _user(username)
    data = _body()
    card = _client().cards.issue(name=_field(data, "name"), id_number=_field(data, "id_number"),
                                 card_no=_field(data, "card_no"), pin=_field(data, "pin"))
    _not_held_by_another(username, card["sign_no"])
    _store().set_card(username, card["sign_no"], "active")
    return jsonify(card), 201


@bp.post("/users/<username>/unlink")
def unlink(username: str) -> Response:
    sign_no = _sign_no(username)
    answer = _client().cards.unlink(sign_no, pin=_field(_body(), "pin"))
    _store().set_card(username, sign_no, "unlinked")
    return jsonify(answer)


@bp.post("/users/<username>/pin/verify")
def verify_pin(username: str) -> Response:
    return jsonify(_client().cards.verify_pin(_sign_no(username), _field(_body(), "pin")))


@bp.get("/users/<username>/disclosures")
def disclosures(username: str) -> Response:
    return jsonify(_client().cards.disclosures(_sign_no(username)))


# -- showing the e-card -------------------------------------------------------
@bp.post("/users/<username>/identity-code")
def identity_code(username: str) -> tuple[Response, int]:
    scenes = _body().get("scenes")
    code = _client().identity_codes.create(_sign_no(username), scenes=scenes)
    return jsonify({k: code.get(k) for k in ("code", "scenes", "issued_at", "expires_at",
                                              "png_base64")}), 201


# -- level 2 and paying -------------------------------------------------------
@bp.post("/users/<username>/payment/sms")
def payment_sms(username: str) -> tuple[Response, int]:
    return jsonify(_client().payments.request_sms(_sign_no(username))), 201


@bp.post("/users/<username>/payment/enable")
def payment_enable(username: str) -> tuple[Response, int]:
    sign_no = _sign_no(username)
    data = _body()
    device_id = data.get("device_id") or f"sample-{username}-{secrets.token_hex(4)}"
    answer = _client().payments.enable(sign_no, sms_code=_field(data, "sms_code"),
                                       device_id=device_id)
    # The secret is shown once: the app keeps it to render its user's payment codes.
    _store().set_device(username, device_id, int(answer["device_slot"]),
                        str(answer["device_secret"]))
    return jsonify({k: v for k, v in answer.items() if k != "device_secret"}), 201


@bp.post("/users/<username>/payment-code")
def payment_code(username: str) -> tuple[Response, int]:
    user = _user(username)
    if not user.device_secret or user.device_slot is None:
        raise LocalError(409, "PAYMENT_NOT_ENABLED", "enable payment first (SMS code)")
    code = PaymentCodeGenerator(user.device_secret, user.device_slot).now()
    return jsonify(code=code, png_base64=qr_png_base64(code)), 201


@bp.get("/users/<username>/payments/pending")
def payments_pending(username: str) -> Response:
    return jsonify(_client().payments.list_pending(_sign_no(username)))


@bp.post("/users/<username>/payments/<payment_id>/confirm")
def payment_confirm(username: str, payment_id: str) -> Response:
    return jsonify(_client().payments.confirm(_sign_no(username), payment_id,
                                              pin=_field(_body(), "pin")))


# -- entitlement certification ------------------------------------------------
@bp.post("/users/<username>/certification")
def certification_start(username: str) -> tuple[Response, int]:
    mode = _body().get("mode", "standard")
    return jsonify(_client().certification.start(sign_no=_sign_no(username), mode=mode,
                                                 purpose="entitlement")), 201


@bp.post("/users/<username>/certification/h5")
def certification_page(username: str) -> tuple[Response, int]:
    """The platform's own certification page instead of the app's camera: start a
    session, then ask its link (``client.h5.create_link``) for the app's web view. The
    page's back button returns to ``return_url`` with the result."""
    data = _body()
    sign_no = _sign_no(username)
    session = _client().certification.start(sign_no=sign_no, mode=data.get("mode", "standard"),
                                            purpose="entitlement")
    link = _client().h5.create_link(session.session_id, return_url=data.get("return_url"))
    return jsonify({"session_id": session.session_id, "mode": session.mode, "url": link.url,
                    "path": link.path, "expires_at": link.expires_at}), 201


@bp.post("/users/<username>/certification/<session_id>/frames")
def certification_frames(username: str, session_id: str) -> Response:
    _sign_no(username)
    data = _body()
    return jsonify(_client().certification.submit(session_id, frames=_frames(data),
                                                  mirrored=bool(data.get("mirrored", False))))


# -- merchant-presented orders (主扫): the user scans the counter's code ---------
@bp.post("/users/<username>/merchant-orders/lookup")
def merchant_order_lookup(username: str) -> Response:
    """What the scanned order code is for (merchant, amount, status), to show the user
    before the PIN is asked (``merchant_orders.lookup``)."""
    sign_no = _sign_no(username)
    return jsonify(_client().merchant_orders.lookup(sign_no,
                                                    _field(_body(), "order_token")))


@bp.post("/users/<username>/merchant-orders/pay")
def merchant_order_pay(username: str) -> Response:
    """Pay the scanned order with the PIN (``merchant_orders.pay``); a retry of a paid
    order answers the same payment."""
    sign_no = _sign_no(username)
    data = _body()
    return jsonify(_client().merchant_orders.pay(sign_no, _field(data, "order_token"),
                                                 pin=_field(data, "pin")))
