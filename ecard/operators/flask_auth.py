"""``@require_operator`` and ``current_operator()`` for the operator API."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from ecard.operators.services import OperatorRef, authenticate
from ecard.platform import current_platform

F = TypeVar("F", bound=Callable[..., Any])


def require_operator(view: F) -> F:
    """Refuse the request unless it carries an active operator's token."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        platform = current_platform()
        with platform.db.transaction() as session:
            g.operator = authenticate(session, platform.clock,
                                      request.headers.get("Authorization"))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def current_operator() -> OperatorRef:
    op: OperatorRef | None = g.get("operator")
    if op is None:
        raise RuntimeError("current_operator() outside a @require_operator view")
    return op
