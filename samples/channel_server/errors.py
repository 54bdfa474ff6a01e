"""Errors of the sample app itself (the platform's come from ``ecard_sdk.errors``)."""

from __future__ import annotations


class LocalError(Exception):
    """Answered as ``{code, message, source: "sample_app"}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
