"""Cross-cutting HTTP concerns: API object, error mapping, request ids, limits."""

from __future__ import annotations

import uuid

from flask import Flask, Response, g, request, send_from_directory
from flask_smorest import Api

from ecard.http.errors import register_error_handlers


def init_app(app: Flask) -> None:
    api = Api(app, spec_kwargs={
        "info": {"description": "The e-card platform API for channels. Every call under "
                 "/api/v1 is authenticated by a channel JWT (see README)."},
        "components": {"securitySchemes": {"channelJWT": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    })
    app.extensions["ecard.api"] = api
    register_error_handlers(app)

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isprintable() \
            else uuid.uuid4().hex

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    from ecard.http.ratelimit import init_app as init_ratelimit
    init_ratelimit(app)  # after the request id: a 429 envelope carries it

    _swagger_ui_assets(app)

    from ecard.blueprints import register_blueprints
    register_blueprints(app, api)


def _swagger_ui_assets(app: Flask) -> None:
    """Serve Swagger UI's files from the swagger-ui-bundle package: no CDN needed."""
    import swagger_ui_bundle

    directory = swagger_ui_bundle.swagger_ui_path

    @app.get("/api/docs/static/<path:filename>")
    def swagger_static(filename: str) -> Response:
        return send_from_directory(directory, filename, max_age=3600)
