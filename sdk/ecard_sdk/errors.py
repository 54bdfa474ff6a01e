"""The SDK's exceptions: one class per meaning, chosen from the HTTP status by one
mapper (:func:`error_from_response`), each carrying the server's machine code.

Catch :class:`EcardError` for everything, a subclass for one kind of trouble, and
branch on ``.code`` (the platform's catalogue code, e.g. ``"PIN_WRONG"``) for the
precise reason::

    from ecard_sdk.errors import EcardError, InvalidRequestError, NotFoundError

    try:
        card = client.cards.retrieve("1101...")
    except NotFoundError:
        ...                                  # no such e-card in this channel
    except InvalidRequestError as exc:
        show(exc.message)                    # in the client's Accept-Language
    except EcardError as exc:
        log.warning("ecard %s %s (request %s)", exc.http_status, exc.code, exc.request_id)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# 409 answers that mean "the same request is still running": safe to try again.
RETRYABLE_CONFLICTS = frozenset({"IDEMPOTENCY_IN_PROGRESS", "ORDER_IN_PROGRESS",
                                 "ISSUANCE_CONFLICT"})
# 429 answers that a wait fixes; the SMS limits need the holder, not a retry.
RETRYABLE_RATE_LIMITS = frozenset({"RATE_LIMITED"})
# 401 answers about the holder's input, not the channel's credentials.
_HOLDER_INPUT_401 = frozenset({"PIN_WRONG"})


class EcardError(Exception):
    """Base of every SDK error.

    ``code``: the server's machine code (``None`` when no answer was read);
    ``message``: the server's sentence (in the client's ``accept_language``);
    ``http_status``, ``request_id`` (quote it to the platform's support),
    ``details`` (e.g. the invalid fields), ``headers`` and ``json_body`` of the answer.
    """

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None,
                 request_id: str | None = None, details: Any = None,
                 headers: Mapping[str, str] | None = None,
                 json_body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.details = details
        self.headers: dict[str, str] = dict(headers or {})
        self.json_body: dict[str, Any] | None = dict(json_body) if json_body is not None \
            else None

    def __str__(self) -> str:
        parts = [p for p in (f"HTTP {self.http_status}" if self.http_status else None,
                             self.code, self.message) if p]
        text = ": ".join(parts)
        return f"{text} (request {self.request_id})" if self.request_id else text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status!r}, "
                f"message={self.message!r}, request_id={self.request_id!r})")


class APIError(EcardError):
    """The platform failed (5xx) or answered something unreadable."""


class APIConnectionError(EcardError):
    """No answer: connection refused or reset, timeout, TLS failure (after retries)."""


class AuthenticationError(EcardError):
    """401: the channel token was refused (``AUTH_*``: key id, signature, clock ...)."""


class PermissionDeniedError(EcardError):
    """403: the channel may not do this (suspended, not online, not a merchant,
    attributes beyond its entitlement)."""


class NotFoundError(EcardError):
    """404: no such e-card, payment, session ... in this channel."""


class ConflictError(EcardError):
    """409: the state does not allow it (e-card suspended, code already used ...)."""


class IdempotencyError(ConflictError):
    """409 ``IDEMPOTENCY_*``: an ``Idempotency-Key`` reused with another request (or
    still in progress after every retry)."""


class InvalidRequestError(EcardError):
    """400/402/410/413/422/423 (and 401 ``PIN_WRONG``): the request or the holder's
    input cannot succeed as sent; ``code`` says what to fix."""


class RateLimitError(EcardError):
    """429: too many requests. ``retry_after_s`` says when to try again (when known)."""

    @property
    def retry_after_s(self) -> float | None:
        value = self.headers.get("retry-after")
        if value is not None:
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(self.details, Mapping) and \
                isinstance(self.details.get("retry_after_s"), int | float):
            return float(self.details["retry_after_s"])
        return None


class CallbackVerificationError(EcardError):
    """A callback failed :func:`ecard_sdk.verify_callback`. ``reason`` names the check
    (for your logs; answer the platform a plain 401 whatever it is)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"callback verification failed: {reason}",
                         code="CALLBACK_INVALID")
        self.reason = reason


_BY_STATUS: dict[int, type[EcardError]] = {
    400: InvalidRequestError, 401: AuthenticationError, 402: InvalidRequestError,
    403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError,
    410: InvalidRequestError, 413: InvalidRequestError, 422: InvalidRequestError,
    423: InvalidRequestError, 429: RateLimitError,
}


def error_class(status: int, code: str | None) -> type[EcardError]:
    """The exception class for an error answer (the one mapper)."""
    if status == 409 and code is not None and code.startswith("IDEMPOTENCY_"):
        return IdempotencyError
    if status == 401 and code in _HOLDER_INPUT_401:
        return InvalidRequestError
    if status >= 500:
        return APIError
    return _BY_STATUS.get(status, InvalidRequestError if 400 <= status < 500 else APIError)


def error_from_response(status: int, headers: Mapping[str, str],
                        body: Mapping[str, Any] | None) -> EcardError:
    """Build the typed error of a non-2xx answer (``body``: the parsed JSON envelope,
    or ``None`` when the answer was not one, e.g. a proxy's HTML page)."""
    if body is not None and isinstance(body.get("code"), str):
        code: str | None = body["code"]
        message = str(body.get("message") or body.get("message_en") or code)
        request_id = body.get("request_id") or headers.get("x-request-id")
        details = body.get("details")
    else:
        code, details = None, None
        message = f"unexpected answer from the platform (HTTP {status})"
        request_id = headers.get("x-request-id")
    return error_class(status, code)(
        message, code=code, http_status=status, request_id=request_id or None,
        details=details, headers=headers, json_body=body)
