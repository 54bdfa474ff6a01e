"""Channel authentication for Flask views: ``@require_channel``, ``current_channel()``
and ``@idempotent_per_channel`` (the channel owns its idempotency keys)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from ecard.channels.auth import ChannelAuthenticator
from ecard.channels.interfaces import AuthenticatedChannel
from ecard.errors import EcardError
from ecard.http.idempotency import idempotent
from ecard.http.ratelimit import CHANNEL_AUTH_ATTR, current_limits

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION = "ecard.channels.auth"


def current_authenticator() -> ChannelAuthenticator:
    auth: ChannelAuthenticator = current_app.extensions[EXTENSION]
    return auth


def _path_with_query() -> str:
    # request.full_path always ends in "?"; the token's htu has "?query" only when
    # there is one.
    return request.full_path[:-1] if request.full_path.endswith("?") else request.full_path


def authenticate_request() -> AuthenticatedChannel:
    """Authenticate the current request, rate-limit it, and keep the result in ``g``."""
    limits = current_limits()
    try:
        caller = current_authenticator().authenticate(
            method=request.method, path_with_query=_path_with_query(),
            body=request.get_data(cache=True), authorization_header=request.headers.get(
                "Authorization"))
    except EcardError:
        limits.enforce()  # refused tokens count against the client address
        raise
    g.channel = caller
    limits.enforce()
    return caller


def require_channel(view: F) -> F:
    """Refuse the request unless a channel token authenticates it.

    Put it directly under ``@bp.route`` so it runs before argument parsing: an
    unauthenticated caller learns nothing about the body's expected shape.
    """
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticate_request()
        return view(*args, **kwargs)

    setattr(wrapper, CHANNEL_AUTH_ATTR, True)
    return cast(F, wrapper)


def current_channel() -> AuthenticatedChannel:
    caller: AuthenticatedChannel | None = g.get("channel")
    if caller is None:
        raise RuntimeError("current_channel() outside a @require_channel view")
    return caller


def current_channel_no() -> str:
    return current_channel().channel_no


def idempotent_per_channel(view: F) -> F:
    """``@idempotent`` keyed by the authenticated channel; goes under ``@require_channel``."""
    return idempotent(current_channel_no)(view)
