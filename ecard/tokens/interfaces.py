"""What the rest of the platform needs from the signing keys."""

from __future__ import annotations

from typing import Any, Protocol


class InvalidToken(Exception):
    """A platform-signed token did not verify. Deliberately one opaque type: the
    caller learns that the token is unusable, never which check failed."""


class Signer(Protocol):
    def sign(self, claims: dict[str, Any], *, typ: str) -> str: ...

    def verify(self, token: str, *, typ: str, audience: str | None = None) -> dict[str, Any]: ...

    def jwks(self) -> dict[str, Any]: ...
