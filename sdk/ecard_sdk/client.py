"""``EcardClient``: one object per channel, resource-shaped methods, signed calls.

>>> from ecard_sdk import EcardClient
>>> client = EcardClient("https://ecard.example.gov.cn", "1000000001",
...                      open("channel-key.pem", "rb").read(), kid="k1")  # doctest: +SKIP
>>> card = client.cards.retrieve("110101000000000001")                     # doctest: +SKIP
>>> card.status                                                            # doctest: +SKIP
'active'

Every call signs a fresh channel token (:mod:`ecard_sdk._signing`). Retries: a call
that got no answer, a 5xx, a 429 ``RATE_LIMITED`` or a 409 saying the same request is
still running is tried again, up to ``max_network_retries`` times, after
:meth:`EcardClient._sleep_time_s` (exponential, jittered, capped at 5 s, at least the
server's ``Retry-After``). GETs change nothing and a PUT sets a state (the same
request twice leaves what one leaves), so both are retried as they are; every POST
carries one ``Idempotency-Key`` chosen before the first try, so a retried POST never
acts twice: the platform answers the stored first answer
(``obj.last_response.idempotent_replayed``). Any other method (PATCH ...) is neither
idempotent nor keyed, so after a try that may have reached the platform (no answer,
5xx) it is not repeated; only a 429, which says nothing was done, is.
"""

from __future__ import annotations

import json
import platform as _platform
import random
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from ecard_sdk._http import (
    HttpResponse,
    RequestOptions,
    Transport,
    TransportError,
    Urllib3Transport,
)
from ecard_sdk._object import EcardObject, ResponseInfo
from ecard_sdk._signing import DEFAULT_LIFETIME_S, ChannelSigner, PrivateKeyInput
from ecard_sdk._version import __version__
from ecard_sdk.adapters import H5, ChannelUsers
from ecard_sdk.errors import (
    RETRYABLE_CONFLICTS,
    RETRYABLE_RATE_LIMITS,
    APIConnectionError,
    APIError,
    EcardError,
    RateLimitError,
    error_from_response,
)
from ecard_sdk.offline import OfflineVerifier, http_fetchers
from ecard_sdk.resources import (
    Cards,
    Certification,
    IdentityCodes,
    MerchantOrders,
    Payments,
    Refunds,
)

API = "/api/v1"
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 5.0
# RFC 9110 9.2.2: the same request again has the effect of one; safe to repeat.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# The platform stores key -> answer for these: a retry replays, never redoes.
KEYED_METHODS = frozenset({"POST"})
USER_AGENT = f"ecard-sdk-python/{__version__} python/{_platform.python_version()}"


class EcardClient:
    """A channel's client of the ecard platform.

    ``base_url``: the platform's root URL (``https://…``; ``http://`` for loopback
    tests). ``channel_no``: the 10-digit channel number. ``private_key``: the channel's
    P-256 key (PEM bytes or str, or a ``cryptography`` key object), loaded once.
    ``kid``: the key id registered with the platform for that key.

    ``timeout`` (seconds, connect and read each), ``max_network_retries`` (retries
    after the first try), ``accept_language`` (``"zh"``/``"en"``: the language of error
    messages; the server's default is Chinese) and ``max_retry_after_s`` (a 429 asking
    to wait longer is raised at once as :class:`~ecard_sdk.errors.RateLimitError`
    instead of blocking the caller) are the defaults of every call; ``options=`` on a
    call overrides them for that call.

    ``transport``, ``sleep``, ``jitter`` and ``clock`` are the seams tests use:
    an HTTP transport, the sleep between retries, a random number in [0, 1) for the
    jitter, and the Unix time the tokens are signed with.

    The client is thread-safe; keep one per channel key for the process's life.
    """

    def __init__(self, base_url: str, channel_no: str, private_key: PrivateKeyInput, *,
                 kid: str, timeout: float = 10.0, max_network_retries: int = 2,
                 accept_language: str | None = None, max_retry_after_s: float = 20.0,
                 token_lifetime_s: int = DEFAULT_LIFETIME_S,
                 transport: Transport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.time) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("base_url must be an http(s) URL such as https://ecard.example")
        if max_network_retries < 0 or timeout <= 0:
            raise ValueError("timeout must be > 0 and max_network_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.channel_no = channel_no
        self.timeout = timeout
        self.max_network_retries = max_network_retries
        self.accept_language = accept_language
        self.max_retry_after_s = max_retry_after_s
        self._signer = ChannelSigner(channel_no, private_key, kid, lifetime_s=token_lifetime_s)
        self._transport: Transport = transport or Urllib3Transport()
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self.cards = Cards(self)
        self.identity_codes = IdentityCodes(self)
        self.payments = Payments(self)
        self.refunds = Refunds(self)
        self.merchant_orders = MerchantOrders(self)
        self.certification = Certification(self)
        self.h5 = H5(self)
        self.channel_users = ChannelUsers(self)

    # -- the platform and the channel ----------------------------------------
    def ping(self, *, options: RequestOptions | None = None) -> EcardObject:
        """An authenticated no-op: checks the channel's key set-up end to end.

        >>> client.ping()                                    # doctest: +SKIP
        <EcardObject {'ok': True}>
        """
        return self.request("POST", f"{API}/ping", json={}, options=options)

    def channel(self, *, options: RequestOptions | None = None) -> EcardObject:
        """The calling channel: ``channel_no``, ``name``, ``type``, ``level``, ``status``.

        >>> client.channel().status                          # doctest: +SKIP
        'online'
        """
        return self.request("GET", f"{API}/channel", options=options)

    def jwks(self, *, options: RequestOptions | None = None) -> EcardObject:
        """The platform's public keys (``/.well-known/jwks.json``, no authentication).

        >>> [k.kid for k in client.jwks()["keys"]]           # doctest: +SKIP
        ['k-2026-01']
        """
        return self.request("GET", "/.well-known/jwks.json", auth=False, options=options)

    def status_list(self, *, options: RequestOptions | None = None) -> str:
        """The signed revocation status list (a compact JWT, no authentication); the
        :class:`~ecard_sdk.OfflineVerifier` verifies and reads it.

        >>> client.status_list().count(".")                  # doctest: +SKIP
        2
        """
        response = self._send("GET", f"{API}/status-list", None, auth=False, options=options)
        return response.body.decode("ascii").strip()

    def offline_verifier(self, **kwargs: Any) -> OfflineVerifier:
        """An :class:`~ecard_sdk.OfflineVerifier` fetching from this platform
        (keyword arguments go to the verifier: ``status_max_age_s`` ...).

        >>> verifier = client.offline_verifier()             # doctest: +SKIP
        >>> verifier.verify(scanned_text, scene="01").ok     # doctest: +SKIP
        True
        """
        return OfflineVerifier(*http_fetchers(self.base_url, timeout_s=self.timeout), **kwargs)

    # -- requests ------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Mapping[str, Any] | None = None,
                query: Mapping[str, Any] | None = None, auth: bool = True,
                options: RequestOptions | None = None) -> EcardObject:
        """One signed call to any route (for routes newer than this SDK), parsed.

        >>> client.request("GET", "/api/v1/channel").channel_no    # doctest: +SKIP
        '1000000001'
        """
        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        body = None if json is None else _encode_json(json)
        response = self._send(method, path, body, auth=auth, options=options)
        try:
            value = _decode_json(response.body)
        except ValueError:
            raise APIError(f"the platform answered HTTP {response.status} without JSON",
                           http_status=response.status,
                           request_id=response.headers.get("x-request-id"),
                           headers=response.headers) from None
        info = ResponseInfo(response.status, response.headers.get("x-request-id"),
                            response.headers.get("idempotent-replayed") == "true",
                            response.headers)
        return EcardObject.construct(value, info)

    def _send(self, method: str, path: str, body: bytes | None, *, auth: bool,
              options: RequestOptions | None) -> HttpResponse:
        method = method.upper()
        opts: RequestOptions = options or {}
        retries = opts.get("max_network_retries", self.max_network_retries)
        timeout = opts.get("timeout", self.timeout)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        language = opts.get("accept_language", self.accept_language)
        if language:
            headers["Accept-Language"] = language
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if method in KEYED_METHODS:
            # Chosen once, before the first try: every retry is the same request.
            headers["Idempotency-Key"] = opts.get("idempotency_key") or uuid.uuid4().hex
        headers.update(opts.get("headers", {}))
        url = self.base_url + path
        # A request that may have reached the platform is repeated only when repeating
        # cannot act twice: idempotent by nature, or keyed.
        repeatable = method in IDEMPOTENT_METHODS or method in KEYED_METHODS
        attempt = 0
        while True:
            if auth:  # a fresh token (new jti) on every try: the platform burns each one
                token = self._signer.token(method, path, body or b"", self._clock())
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = self._transport.send(method, url, body, headers, timeout)
            except TransportError as exc:
                if attempt < retries and repeatable:
                    attempt += 1
                    self._sleep(self._sleep_time_s(attempt))
                    continue
                tries = f"{attempt + 1} {'try' if attempt == 0 else 'tries'}"
                raise APIConnectionError(f"no answer from {self.base_url} after {tries}: {exc}") \
                    from exc
            if 200 <= response.status < 300:
                return response
            error = error_from_response(response.status, response.headers,
                                        _error_body(response.body))
            delay = self._retry_delay_s(error, attempt + 1, repeatable) \
                if attempt < retries else None
            if delay is None:
                raise error
            attempt += 1
            self._sleep(delay)

    def _retry_delay_s(self, error: EcardError, attempt: int,
                       repeatable: bool = True) -> float | None:
        """How long to wait before retrying ``error``; ``None``: do not retry. A 429
        means nothing was done, so it is retried for every method; a 5xx or a 409
        "still running" only when the request is ``repeatable``."""
        status = error.http_status or 0
        retryable = ((repeatable and status >= 500)
                     or (repeatable and status == 409 and error.code in RETRYABLE_CONFLICTS)
                     or (status == 429 and (error.code is None
                                            or error.code in RETRYABLE_RATE_LIMITS)))
        if not retryable:
            return None
        retry_after = error.retry_after_s if isinstance(error, RateLimitError) \
            else _retry_after(error.headers)
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return None  # the caller decides whether to wait that long
        return self._sleep_time_s(attempt, retry_after)

    def _sleep_time_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        """The wait before retry number ``attempt`` (1, 2, ...): 0.5 s doubled each
        time, capped at 5 s, jittered down to half (so a crowd of clients spreads
        out), and never shorter than the server's ``Retry-After``."""
        delay = min(INITIAL_RETRY_DELAY_S * 2 ** (attempt - 1), MAX_RETRY_DELAY_S)
        delay = self._add_jitter_time(delay)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay

    def _add_jitter_time(self, delay_s: float) -> float:
        """The one place randomness enters: ``delay_s`` scaled into [delay/2, delay]."""
        return delay_s * (0.5 + 0.5 * self._jitter())

    # -- lifetime ------------------------------------------------------------
    def close(self) -> None:
        """Closes the pooled connections (the client is unusable afterwards)."""
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> EcardClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EcardClient({self.base_url!r}, channel_no={self.channel_no!r})"


def _encode_json(value: Mapping[str, Any]) -> bytes:
    # The exact bytes sent are the bytes signed (bh): encode once, here.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode_json(body: bytes) -> dict[str, Any]:
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _error_body(body: bytes) -> dict[str, Any] | None:
    try:
        return _decode_json(body)
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None
