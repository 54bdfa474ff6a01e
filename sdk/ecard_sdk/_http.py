"""The HTTP boundary: per-call options, the transport protocol, and its urllib3 twin.

Why urllib3 and not requests: requests is built on urllib3 and adds four packages
(charset-normalizer, idna, certifi and itself) and about a tenth of a millisecond per
call in hooks, cookie jars and environment lookups the SDK does not need
(``trust_env`` even reads ``.netrc`` and proxy variables per request). urllib3 gives
what matters here - a thread-safe connection pool, separate connect and read
timeouts, TLS verification on by default - and it is already installed wherever
requests is, so it adds nothing to a channel's dependency tree. Retries are ours
(:meth:`ecard_sdk.client.EcardClient._sleep_time_s`), so urllib3's are switched off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol, TypedDict

import urllib3
from urllib3.exceptions import HTTPError as Urllib3HTTPError


class RequestOptions(TypedDict, total=False):
    """Per-call settings, ``options=`` on every resource method; each overrides the
    client's default for that call only.

    >>> client.ping(options={"timeout": 2.0, "max_network_retries": 0})  # doctest: +SKIP
    """

    idempotency_key: str  # POST only; default: a fresh uuid4 hex per logical call
    # (GET and PUT need none: repeating them has the effect of one)
    timeout: float  # seconds, connect and read each
    max_network_retries: int
    accept_language: str  # "zh" or "en": the language of error messages
    headers: Mapping[str, str]  # extra headers (e.g. X-Request-Id for tracing)


class HttpResponse(NamedTuple):
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


class TransportError(Exception):
    """The request got no HTTP answer (refused, reset, timed out, TLS ...)."""


class Transport(Protocol):
    """Sends one HTTP request, once. Raises :class:`TransportError` for network
    trouble; returns every HTTP answer, whatever its status."""

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
             timeout_s: float) -> HttpResponse: ...


class Urllib3Transport:
    """A pooled urllib3 transport (thread-safe; one per client).

    ``pool_maxsize``: connections kept per host, at least the number of threads that
    share the client. ``ca_certs``: a CA bundle for a private PKI (default: the
    system's trust store, through the ssl module).
    """

    def __init__(self, *, pool_maxsize: int = 10, ca_certs: str | None = None) -> None:
        kwargs: dict[str, object] = {"maxsize": pool_maxsize, "block": False,
                                     "retries": False}
        if ca_certs is not None:
            kwargs["ca_certs"] = ca_certs
        self._pool = urllib3.PoolManager(**kwargs)  # type: ignore[arg-type]

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
             timeout_s: float) -> HttpResponse:
        try:
            response = self._pool.request(
                method, url, body=body, headers=dict(headers),
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                retries=False, redirect=False, preload_content=True)
        except (Urllib3HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return HttpResponse(response.status,
                            {k.lower(): v for k, v in response.headers.items()},
                            response.data)

    def close(self) -> None:
        self._pool.clear()
