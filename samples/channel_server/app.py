"""The sample channel server: a Flask app built on ``ecard_sdk`` alone.

``create_app(settings)`` wires one :class:`ecard_sdk.EcardClient` (the channel's key,
loaded once), the app's own :class:`~samples.channel_server.store.Store`, the JSON API
its phone app calls (``api.py``), a page to look at (``pages.py``) and the endpoint
the platform POSTs callbacks to, which verifies each one with
:func:`ecard_sdk.verify_callback` before recording it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecard_sdk import CallbackVerificationError, EcardClient, JwksCache, verify_callback
from ecard_sdk.errors import APIConnectionError, EcardError
from flask import Flask, Response, jsonify, request

from samples.channel_server.errors import LocalError
from samples.channel_server.store import Store
from samples.sample_dir import default_dir, kid_of

log = logging.getLogger("samples.channel_server")
APP_CHANNEL = "3000000001"


@dataclass(frozen=True)
class Settings:
    ecard_url: str
    channel_no: str
    key_path: Path
    kid: str
    data_dir: Path

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """``ECARD_URL``, ``ECARD_SAMPLE_DIR`` (the key file and the SQLite file live
        there), ``SAMPLE_CHANNEL_NO``, ``SAMPLE_CHANNEL_KEY``, ``SAMPLE_CHANNEL_KID``."""
        data_dir = Path(overrides.pop("data_dir", None) or default_dir())
        channel_no = overrides.pop("channel_no", None) or os.environ.get(
            "SAMPLE_CHANNEL_NO", APP_CHANNEL)
        values: dict[str, Any] = {
            "ecard_url": os.environ.get(
                "ECARD_URL", f"http://127.0.0.1:{os.environ.get('ECARD_PORT', '8000')}"),
            "channel_no": channel_no,
            "key_path": Path(os.environ.get("SAMPLE_CHANNEL_KEY")
                             or data_dir / f"{channel_no}.pem"),
            "kid": os.environ.get("SAMPLE_CHANNEL_KID") or kid_of(data_dir, channel_no),
            "data_dir": data_dir,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    client = EcardClient(base_url=settings.ecard_url, channel_no=settings.channel_no,
                         private_key=settings.key_path.read_bytes(), kid=settings.kid,
                         timeout=30.0, accept_language="en")
    store = Store(settings.data_dir / f"channel-{settings.channel_no}.sqlite3")
    # Fetched at first use, again when a callback names a key id it does not hold.
    jwks = JwksCache(client.jwks)
    app.extensions["sample"] = {"client": client, "store": store, "settings": settings}

    from samples.channel_server.api import bp as api_bp
    from samples.channel_server.pages import bp as pages_bp
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)

    @app.errorhandler(EcardError)
    def platform_error(exc: EcardError) -> tuple[Response, int]:
        # The platform's own code and message go back to the app unchanged.
        status = 502 if isinstance(exc, APIConnectionError) else (exc.http_status or 502)
        return jsonify(code=exc.code or "PLATFORM_UNREACHABLE", message=exc.message,
                       request_id=exc.request_id, details=exc.details,
                       source="platform"), status

    @app.errorhandler(LocalError)
    def local_error(exc: LocalError) -> tuple[Response, int]:
        return jsonify(code=exc.code, message=exc.message, source="sample_app"), exc.status

    @app.get("/health")
    def health() -> Response:
        return jsonify(ok=True, channel_no=settings.channel_no)

    @app.post("/callbacks")
    def receive_callback() -> tuple[Response, int]:
        body = request.get_data(cache=False)  # the exact bytes that were signed
        headers = dict(request.headers)
        try:
            doc = verify_callback(body, headers, jwks_or_fetch=jwks,
                                  channel_no=settings.channel_no, seen=store)
        except CallbackVerificationError as exc:
            # Never act on an unverified body; the platform will deliver it again.
            log.warning("callback refused: %s", exc.reason)
            return jsonify(code="CALLBACK_REFUSED", message=exc.reason), 401
        attempt = headers.get("Ecard-Delivery-Attempt")
        new = store.record_callback(doc, int(attempt) if attempt and attempt.isdigit()
                                    else None, body.decode("utf-8"))
        log.info("callback %s %s %s (%s)", doc["id"], doc["event"], doc.get("sign_no"),
                 "new" if new else "already had it")
        return jsonify(received=doc["id"], duplicate=not new), 200

    @app.get("/api/callbacks")
    def list_callbacks() -> Response:
        return jsonify(callbacks=store.callbacks(request.args.get("sign_no")))

    return app
