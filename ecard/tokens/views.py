"""The platform's public keys."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_smorest import Blueprint as ApiBlueprint

from ecard.platform import current_platform

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
