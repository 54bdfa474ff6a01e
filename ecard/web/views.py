"""The H5 pages and their endpoints.

``bp`` (in the OpenAPI document): ``POST /api/v1/h5/links``, channel-authenticated,
answers the page URL for a session the channel started.

``pages`` (plain Flask, same origin as the API): ``/h5/`` home, ``/h5/settings``,
``/h5/certify/<session_id>``, static files under ``/h5/static/``, and the page's JSON
endpoints ``/h5/api/sessions/<id>`` (read) and ``/h5/api/sessions/<id>/frames``
(submit), authorised by the link token as a bearer token. Every response of
``pages`` carries the security headers of :func:`_security_headers`.

A government app's holder arrives through ``/h5/sso#ticket=…`` (the page redeems the
ticket at ``POST /api/v1/h5/sso``, which sets the SameSite=Strict session cookie);
``/h5/`` then offers their pension certification, and
``POST /h5/api/sso/certification`` starts it (:mod:`ecard.web.entry`). That POST is
authorised by the cookie and must also carry ``X-Ecard-CSRF``, a value rendered into
our own pages only (``channel_adapters.gov_app.csrf_token``).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint as FlaskBlueprint
from flask import Response, jsonify, render_template, request
from flask_smorest import Blueprint
from marshmallow import ValidationError

from channel_adapters.gov_app import COOKIE, GovAppAdapter, H5Session, csrf_ok, csrf_token
from channel_adapters.interfaces import SessionInvalid
from ecard.certification.services import UploadedFrame
from ecard.certification.views import certification_service
from ecard.channels.flask_auth import (
    current_channel_no,
    idempotent_per_channel,
    require_channel,
)
from ecard.errors import EcardError
from ecard.faces.images import decode_base64_image
from ecard.platform import Platform, current_platform
from ecard.web.entry import holder_entry, start_certification
from ecard.web.schemas import H5LinkRequest, H5LinkResponse, PageFrames
from ecard.web.services import H5Service, outcome, signer_from_config

log = logging.getLogger("ecard.web")

bp = Blueprint("h5_links", __name__, url_prefix="/api/v1/h5",
               description="H5 pages: hand a certification session to the platform's "
                           "own page, opened in the channel app's web view.")
pages = FlaskBlueprint("h5", __name__, url_prefix="/h5", template_folder="templates",
                       static_folder="static", static_url_path="/static")

CHANNEL_JWT: list[dict[str, list[str]]] = [{"channelJWT": []}]
_SERVICE = "ecard.web.service"

# No inline script or style anywhere; the camera stream is a MediaStream (media-src
# mediastream:), captured frames are drawn on a canvas and read as data: URLs only
# inside the page. Channels open the page in a web view as a top-level document, never
# in a frame, so framing is refused outright: a face check must not be clickjacked.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' mediastream: blob:; connect-src 'self'; font-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def h5_service(platform: Platform) -> H5Service:
    svc: H5Service | None = platform.extras.get(_SERVICE)
    if svc is None or svc.clock is not platform.clock:
        c = platform.config
        svc = H5Service(signer=signer_from_config(c), clock=platform.clock,
                        public_url=str(c.get("PUBLIC_URL") or ""),
                        max_frames=int(c["CERTIFICATION_MAX_FRAMES"]))
        platform.extras[_SERVICE] = svc
    return svc


@bp.route("/links", methods=["POST"])
@require_channel
@idempotent_per_channel
@bp.doc(security=CHANNEL_JWT)
@bp.arguments(H5LinkRequest)
@bp.response(201, H5LinkResponse)
def create_link(args: dict[str, Any]) -> dict[str, Any]:
    """A link to the platform's certification page for an open session of this channel:
    ``/h5/certify/<session_id>#t=<token>``. The token is bound to the session and this
    channel and expires at the session's deadline; open the URL in the app's web view
    (top level, not in a frame)."""
    platform = current_platform()
    with platform.db.transaction() as session:
        link = h5_service(platform).create_link(session, current_channel_no(), args["session_id"],
                                                args.get("return_url"))
    return {"url": link.url, "path": link.path, "expires_at": link.expires_at}


@pages.after_request
def _security_headers(response: Response) -> Response:
    h = response.headers
    h["Content-Security-Policy"] = CSP
    h["Referrer-Policy"] = "no-referrer"
    h["X-Frame-Options"] = "DENY"
    h["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), payment=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    if request.path.startswith("/h5/static/"):
        h["Cache-Control"] = "no-cache"  # revalidate: a page and its script change together
    else:
        h["Cache-Control"] = "no-store"
    return response


# -- the government-app sign-on session (cookie) ---------------------------------------
def _signed_on(platform: Platform) -> H5Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return GovAppAdapter.check_session(platform.protector, platform.clock.now(), token)
    except SessionInvalid:
        return None


def _same_origin(platform: Platform) -> bool:
    # Browsers send Origin on every POST from a page; ours is this host (or the public
    # URL a proxy in front of us answers under).
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {request.host_url.rstrip("/")}
    public = urlsplit(str(platform.config.get("PUBLIC_URL") or ""))
    if public.scheme and public.netloc:
        ours.add(f"{public.scheme}://{public.netloc}")
    return origin in ours


# -- pages -----------------------------------------------------------------------------
@pages.get("/")
def home() -> str:
    platform = current_platform()
    h5 = _signed_on(platform)
    entry = None
    if h5 is not None:
        with platform.db.session() as session:
            entry = holder_entry(session, h5)
    csrf = csrf_token(platform.protector, h5.token) if h5 is not None and entry else None
    return render_template("h5/home.html", page="home", entry=entry, sso_csrf=csrf)


@pages.get("/sso")
def sso_landing() -> str:
    # The ticket rides in the fragment (never in a request line or a log); the page's
    # script redeems it and goes on to the home.
    return render_template("h5/sso.html", page="sso")


@pages.get("/settings")
def settings() -> str:
    return render_template("h5/settings.html", page="settings")


@pages.get("/certify/<string:session_id>")
def certify(session_id: str) -> str:
    # The page reads its token from the fragment; nothing about the session is
    # rendered on the server, so a copied URL without the fragment shows nothing.
    plain = session_id.replace("_", "").replace("-", "")
    if not 1 <= len(session_id) <= 40 or not (plain.isascii() and plain.isalnum()):
        raise EcardError("NOT_FOUND")
    platform = current_platform()
    h5 = _signed_on(platform)
    csrf = csrf_token(platform.protector, h5.token) if h5 is not None else None
    return render_template("h5/certify.html", page="certify", session_id=session_id,
                           sso_csrf=csrf)


# -- the page's JSON endpoints -----------------------------------------------------------
def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@pages.get("/api/sessions/<string:session_id>")
def read_session(session_id: str) -> Response:
    platform = current_platform()
    svc = h5_service(platform)
    claims = svc.claims(_bearer(), session_id)
    with platform.db.session() as session:
        return jsonify(svc.view(session, claims))


@pages.post("/api/sessions/<string:session_id>/frames")
def submit_frames(session_id: str) -> Response:
    platform = current_platform()
    svc = h5_service(platform)
    claims = svc.claims(_bearer(), session_id)  # before reading the body
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise EcardError("BAD_REQUEST")
    try:
        args = PageFrames().load(data)
    except ValidationError as exc:
        raise EcardError("VALIDATION_FAILED", details={"fields": exc.messages}) from None
    uploads = [UploadedFrame(decode_base64_image(f["image"]), f["captured_at"])
               for f in args["frames"]]
    # The page sends the camera's frames as captured (a front camera's stream is not
    # mirrored; only the preview on screen is), so mirrored stays False.
    decision = certification_service(platform).submit(
        platform.db, claims.channel_no, claims.session_id, uploads, mirrored=False)
    log.info("h5 session %s decided: passed=%s reason=%s", claims.session_id,
             decision.get("passed"), decision.get("reason"))
    return jsonify(outcome(decision, claims))


@pages.post("/api/sso/certification")
def sso_start_certification() -> tuple[Response, int]:
    """Start the signed-on holder's pension certification in the mode they chose
    (``{"mode": "standard"|"elder"}``; default: the ``ecard_elder`` setting) and answer
    the page's path with a fresh link token."""
    platform = current_platform()
    h5 = _signed_on(platform)
    if h5 is None:
        raise EcardError("H5_SESSION_INVALID")
    if not _same_origin(platform) or not csrf_ok(platform.protector, h5.token,
                                         request.headers.get("X-Ecard-CSRF")):
        raise EcardError("H5_CSRF_INVALID")
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    mode = data.get("mode") or ("elder" if request.cookies.get("ecard_elder") == "1"
                                else "standard")
    with platform.db.transaction() as session:
        link = start_certification(session, certification_service(platform),
                                   h5_service(platform), h5, str(mode))
    log.info("h5 sso: certification started for channel %s", h5.channel_no)
    return jsonify({"session_id": link.session_id, "mode": mode,
                    "path": link.path, "expires_at": link.expires_at.isoformat()}), 201
