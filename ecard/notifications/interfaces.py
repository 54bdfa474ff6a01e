"""What the callback worker needs from the outside world, and the errors it names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one POST: ``ok`` only for a 2xx answer. ``error`` is a short
    description without the response body or the URL (they may carry anything)."""

    ok: bool
    status: int | None = None
    error: str | None = None


class CallbackTransport(Protocol):
    """POSTs one signed callback; never raises for network trouble, it reports it."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult: ...


class InvalidCallback(Exception):
    """A callback failed verification. One opaque error whatever check failed, so a
    prober learns nothing from which one it was."""


class ReplayGuard(Protocol):
    """Remembers callback token ids until they expire (a channel's cache or table)."""

    def first_use(self, jti: str, expires_at: int) -> bool:
        """True the first time ``jti`` is seen, False for every later time."""
        ...
