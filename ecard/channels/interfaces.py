"""What the rest of the platform needs from channels: the authenticated caller, the
one-time ``jti`` store, and the errors channel operations raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ecard.errors import AuthError, EcardError

# A channel's lifecycle. Each status lists the statuses it may move to; ``exited`` is
# final. ``online`` leaves only through ``suspended`` so that an exit is always
# preceded by a stop in service that the channel's users can be told about.
TRANSITIONS: dict[str, frozenset[str]] = {
    "applied": frozenset({"testing", "exited"}),
    "testing": frozenset({"online", "exited"}),
    "online": frozenset({"suspended"}),
    "suspended": frozenset({"online", "exited"}),
    "exited": frozenset(),
}

# Statuses whose channels may call the API (``testing`` calls the same API as
# ``online``; the channel's own users are not yet pointed at it).
CALLABLE_STATUSES = frozenset({"testing", "online"})


class ChannelError(EcardError):
    """A channel operation was refused (``CHANNEL_*`` codes)."""

    default_code = "CHANNEL_NOT_FOUND"


class ChannelKeyInvalid(ChannelError):
    default_code = "CHANNEL_KEY_INVALID"


class ChannelAuthError(AuthError):
    """A channel token was refused (``AUTH_*`` codes, 401)."""


class ChannelForbidden(EcardError):
    """The token is good but the channel may not call now (403)."""

    default_code = "CHANNEL_NOT_ONLINE"


@dataclass(frozen=True)
class AuthenticatedChannel:
    """The caller of the current request, as its token proved it."""

    channel_no: str
    name: str
    type: str
    level: int
    status: str
    parent_no: str | None
    kid: str
    jti: str
    expires_at: datetime
    claims: dict[str, Any] = field(repr=False, compare=False)


@runtime_checkable
class ReplayGuard(Protocol):
    """Remembers each token id until its token expires.

    ``claim`` returns True the first time a (channel, jti) pair is seen and False on
    every later call, across every process and machine that shares the store.
    """

    def claim(self, channel_no: str, jti: str, expires_at: datetime) -> bool: ...
