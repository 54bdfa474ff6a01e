"""The one mapper from exceptions to the JSON error envelope."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ecard.errors import CATALOGUE, EcardError

log = logging.getLogger("ecard.http")

_HTTP_CODES = {
    400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE", 415: "BAD_REQUEST", 422: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
}


def request_language() -> str:
    best = request.accept_languages.best_match(["zh", "en"], default="zh")
    return best or "zh"


def error_response(error: EcardError) -> Response:
    body = error.to_dict(request_language())
    body["request_id"] = getattr(g, "request_id", None)
    response = jsonify(body)
    response.status_code = error.status
    retry_after = error.details.get("retry_after_s") if isinstance(error.details, dict) \
        else None
    if error.status == 429 and isinstance(retry_after, int):
        # The standard header too, so any HTTP client (the SDK included) can wait.
        response.headers["Retry-After"] = str(retry_after)
    return response


def _from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    details: Any = None
    data = getattr(exc, "data", None)
    if status == 422 and isinstance(data, dict) and "messages" in data:
        # webargs/marshmallow field errors: {"json": {"field": ["msg"]}}
        details = {"fields": data["messages"]}
    err = EcardError(code, details=details)
    if CATALOGUE[code].status != status:
        # e.g. 415 mapped onto BAD_REQUEST: keep the real status
        response = error_response(err)
        response.status_code = status
    else:
        response = error_response(err)
    if status == 405:
        valid = getattr(exc, "valid_methods", None)
        if valid:
            response.headers["Allow"] = ", ".join(sorted(valid))
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EcardError)
    def _ecard_error(exc: EcardError) -> Response:
        log.info("refused %s %s: %s", request.method, request.path, exc.code)
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _from_http_exception(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(EcardError("INTERNAL_ERROR"))
