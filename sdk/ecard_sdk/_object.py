"""What every call returns: the server's JSON object as a dict with attribute access."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ResponseInfo:
    """About the HTTP answer an object came from (``obj.last_response``)."""

    http_status: int
    request_id: str | None
    idempotent_replayed: bool
    headers: dict[str, str] = field(default_factory=dict)


class EcardObject(dict[str, Any]):
    """A JSON object from the platform: ``card.sign_no`` and ``card["sign_no"]`` are
    the same. Nested objects (also inside lists) are :class:`EcardObject` too; it is a
    plain ``dict`` otherwise (``json.dumps(card)`` works).

    >>> card = EcardObject.construct({"sign_no": "1101", "holder": {"level": 1}})
    >>> card.sign_no, card.holder.level
    ('1101', 1)
    """

    last_response: ResponseInfo | None = None

    @classmethod
    def construct(cls, value: dict[str, Any],
                  last_response: ResponseInfo | None = None) -> EcardObject:
        obj = cls({k: _wrap(v) for k, v in value.items()})
        if last_response is not None:
            object.__setattr__(obj, "last_response", last_response)
        return obj

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}; "
                                 f"fields: {sorted(self)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return EcardObject.construct(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value
