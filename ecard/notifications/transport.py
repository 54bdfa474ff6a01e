"""HTTP for callbacks: the real ``requests`` transport and its in-memory twin."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from ecard.notifications.interfaces import DeliveryResult

MAX_ERROR_CHARS = 200


class RequestsTransport:
    """POSTs with a connect and a read timeout and no redirects (a 3xx is a failure:
    the callback URL is registered, not discovered). Each thread keeps its own
    ``requests.Session`` so connections are reused without sharing one across threads."""

    def __init__(self, connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0) -> None:
        self.timeout = (connect_timeout_s, read_timeout_s)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        try:
            response = self._session().post(url, data=body, headers=headers,
                                            timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            return DeliveryResult(False, None, f"timeout: {type(exc).__name__}")
        except requests.ConnectionError as exc:
            return DeliveryResult(False, None, f"connection error: {_root_cause(exc)}")
        except requests.RequestException as exc:
            return DeliveryResult(False, None, f"request error: {type(exc).__name__}")
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return DeliveryResult(True, status)
        return DeliveryResult(False, status, f"HTTP {status}")


def _root_cause(exc: BaseException) -> str:
    """The innermost exception's class name (e.g. ConnectionRefusedError): enough to
    act on, and free of URLs and response content."""
    seen: set[int] = set()
    cause: BaseException = exc
    while True:
        nxt = cause.__cause__ or cause.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        cause = nxt
    # urllib3 wraps the socket error in its own reason attribute
    reason = getattr(cause, "reason", None)
    if isinstance(reason, BaseException):
        cause = reason
    return type(cause).__name__[:MAX_ERROR_CHARS]


@dataclass
class SentCallback:
    url: str
    body: bytes
    headers: dict[str, str]
    result: DeliveryResult


@dataclass
class FakeTransport:
    """Records every POST and answers through ``respond`` (default: 200). Thread-safe,
    so several workers may share one in tests."""

    respond: Callable[[str, bytes, dict[str, str]], DeliveryResult] = field(
        default=lambda url, body, headers: DeliveryResult(True, 200))
    sent: list[SentCallback] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        result = self.respond(url, body, headers)
        with self._lock:
            self.sent.append(SentCallback(url, body, dict(headers), result))
        return result
