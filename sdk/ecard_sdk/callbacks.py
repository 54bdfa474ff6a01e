"""Checking the platform's signed callbacks (docs/callbacks.md in the platform repo).

The platform POSTs each notification with ``Ecard-Signature``: a compact JWS (ES256,
``typ: ecard-callback+jwt``, ``kid`` of its JWKS) whose claims carry the SHA-256 of
the body (``bh``), so it signs exactly the bytes received. :func:`verify_callback`
runs every check a channel must, in the documented order, and raises one
:class:`~ecard_sdk.errors.CallbackVerificationError` (``.reason`` names the check,
for your logs). A Flask receiver::

    jwks = JwksCache.from_url("https://ecard.example.gov.cn")
    seen = RedisReplayCache(redis.Redis())      # or MemoryReplayCache() in one process

    @app.post("/ecard/callback")
    def ecard_callback():
        try:
            note = verify_callback(request.get_data(), request.headers,
                                   jwks_or_fetch=jwks, channel_no="1000000001", seen=seen)
        except CallbackVerificationError as exc:
            log.warning("refused callback: %s", exc.reason)
            return "", 401
        handle_once(note.id, note.event, note.data)   # de-duplicate on note.id
        return "", 204
"""

from __future__ import annotations

import heapq
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from ecard_sdk._jws import sha256_b64url, split_jws, verify_es256
from ecard_sdk._object import EcardObject
from ecard_sdk.codes import keys_from_jwks
from ecard_sdk.errors import CallbackVerificationError
from ecard_sdk.offline import Fetched, http_fetchers

SIGNATURE_HEADER = "Ecard-Signature"
EVENT_HEADER = "Ecard-Event"
ATTEMPT_HEADER = "Ecard-Delivery-Attempt"
TYP = "ecard-callback+jwt"
ISSUER = "ecard"
TOKEN_TTL_S = 300
TOLERANCE_S = 300


class ReplayCacheFull(Exception):
    """The replay cache cannot take another id before older ones expire."""


class ReplayCache(Protocol):
    """Remembers callback token ids (``jti``) until they expire. Back it with Redis or
    a table when several processes receive callbacks (see :class:`RedisReplayCache`)."""

    def first_use(self, jti: str, expires_at: int) -> bool:
        """True the first time ``jti`` is seen, False every later time (until
        ``expires_at``, Unix seconds, after which the token is refused as expired)."""
        ...


class MemoryReplayCache:
    """A process-local :class:`ReplayCache` holding at most ``max_entries`` ids.

    Expired ids are dropped first; when the cache is full of live ones it refuses
    (:class:`ReplayCacheFull`, reason ``replay_cache_full``) rather than forget a live
    id: the platform redelivers refused callbacks, so refusing is safe and forgetting
    is not. Size it for five minutes of callbacks (ids live 300 s).

    >>> seen = MemoryReplayCache(max_entries=2, clock=lambda: 100.0)
    >>> seen.first_use("42.1", 400), seen.first_use("42.1", 400)
    (True, False)
    """

    def __init__(self, max_entries: int = 100_000, *,
                 clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def first_use(self, jti: str, expires_at: int) -> bool:
        with self._lock:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                exp, old = heapq.heappop(self._heap)
                if self._expiry.get(old) == exp:
                    del self._expiry[old]
            if jti in self._expiry:
                return False
            if len(self._expiry) >= self.max_entries:
                raise ReplayCacheFull
            self._expiry[jti] = expires_at
            heapq.heappush(self._heap, (expires_at, jti))
            return True

    def __len__(self) -> int:
        return len(self._expiry)


class RedisReplayCache:
    """A :class:`ReplayCache` in Redis, shared by every process and machine: one
    ``SET key 1 NX EX ttl`` per callback. ``redis``: a ``redis.Redis`` client (any
    object with redis-py's ``set(name, value, nx=, ex=)``).

    >>> seen = RedisReplayCache(redis.Redis.from_url("redis://localhost/0"))  # doctest: +SKIP
    """

    def __init__(self, redis: Any, *, prefix: str = "ecard:callback-jti:",
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock

    def first_use(self, jti: str, expires_at: int) -> bool:
        ttl = max(1, int(expires_at - self._clock()) + 1)
        return bool(self._redis.set(self._prefix + jti, b"1", nx=True, ex=ttl))


class JwksCache:
    """The platform's public keys for callback checks, fetched when needed: at first
    use, when ``max_age_s`` old, and when a callback names an unknown ``kid`` (a key
    rotated since; at most once per ``min_refetch_interval_s``, so junk kids cannot
    make you hammer the platform). ``fetch`` returns the JWKS (a mapping, JSON text,
    or an :class:`~ecard_sdk.offline.Fetched`).

    >>> jwks = JwksCache.from_url("https://ecard.example.gov.cn")   # doctest: +SKIP
    >>> jwks = JwksCache(lambda: client.jwks())                    # doctest: +SKIP
    """

    def __init__(self, fetch: Callable[[], Any], *, max_age_s: float = 3600,
                 min_refetch_interval_s: float = 30,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self.max_age_s = max_age_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self._monotonic = monotonic
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._fetched_at: float | None = None
        self._next_retry = float("-inf")  # after a failed fetch
        self._next_kid_refetch = float("-inf")  # after a fetch for an unknown kid
        self._lock = threading.Lock()
        self.fetches = 0

    @classmethod
    def from_url(cls, base_url: str, *, timeout_s: float = 5.0, **kwargs: Any) -> JwksCache:
        """A cache fetching ``<base_url>/.well-known/jwks.json``."""
        fetch_jwks, _ = http_fetchers(base_url, timeout_s=timeout_s)
        return cls(fetch_jwks, **kwargs)

    def refresh(self) -> None:
        """Fetch now (errors propagate; the keys held stay as they were)."""
        value = self._fetch()
        if isinstance(value, Fetched):
            value = value.value
        if isinstance(value, str | bytes):
            value = json.loads(value)
        keys = keys_from_jwks(value)
        self.fetches += 1
        self._keys, self._fetched_at = keys, self._monotonic()

    def key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The key named ``kid``, refetching as described above; ``None`` if unknown."""
        with self._lock:
            now = self._monotonic()
            stale = self._fetched_at is None or now - self._fetched_at >= self.max_age_s
            if stale and now >= self._next_retry:
                self._try_refresh(now)
            if kid not in self._keys and now >= self._next_kid_refetch:
                self._next_kid_refetch = now + self.min_refetch_interval_s
                self._try_refresh(now)
            return self._keys.get(kid)

    def _try_refresh(self, now: float) -> None:
        try:
            self.refresh()
        except Exception:  # unreachable platform: judge with the keys held, retry later
            self._next_retry = now + self.min_refetch_interval_s


JwksSource = Mapping[str, Any] | JwksCache | Callable[[], Any]

_DEFAULT_SEEN = MemoryReplayCache()
_NOT_GIVEN: Any = object()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _key_for(source: JwksSource, kid: str) -> ec.EllipticCurvePublicKey | None:
    if isinstance(source, JwksCache):
        return source.key(kid)
    jwks = source() if callable(source) else source
    if isinstance(jwks, Fetched):
        jwks = jwks.value
    if isinstance(jwks, str | bytes):
        jwks = json.loads(jwks)
    return keys_from_jwks(jwks).get(kid)


def verify_callback(body: bytes, headers: Mapping[str, str], *, jwks_or_fetch: JwksSource,
                    channel_no: str, now: float | None = None, tolerance_s: int = TOLERANCE_S,
                    seen: ReplayCache | None = _NOT_GIVEN) -> EcardObject:
    """Check a received callback and return its parsed body (``id``, ``event``,
    ``sign_no``, ``channel_no``, ``occurred_at``, ``data``).

    ``body``: the raw request bytes, before any parsing. ``headers``: the request's
    headers (any mapping; the name is matched case-insensitively). ``jwks_or_fetch``:
    a :class:`JwksCache` (recommended: refetches when a new ``kid`` appears), the JWKS
    itself, or a function returning it (called on every check). ``now``: Unix time
    (default: the system clock). ``seen``: where used token ids are kept (default: one
    :class:`MemoryReplayCache` for the process; pass a :class:`RedisReplayCache` when
    several processes receive callbacks; ``None`` turns the replay check off).

    Raises :class:`~ecard_sdk.errors.CallbackVerificationError` with ``reason`` one of
    ``missing_signature``, ``malformed``, ``bad_header``, ``unknown_kid``,
    ``bad_signature``, ``wrong_issuer``, ``wrong_audience``, ``stale``,
    ``issued_in_future``, ``expired``, ``lifetime_too_long``, ``body_hash_mismatch``,
    ``body_invalid``, ``wrong_channel``, ``id_mismatch``, ``replayed``,
    ``replay_cache_full``. A retried notification has a new ``jti`` but the same
    ``id``: de-duplicate on ``id`` after this check.

    >>> note = verify_callback(request.get_data(), request.headers, jwks_or_fetch=jwks,
    ...                        channel_no="1000000001")   # doctest: +SKIP
    >>> note.event, note.data.status                      # doctest: +SKIP
    ('suspended', 'suspended')
    """
    if seen is _NOT_GIVEN:
        seen = _DEFAULT_SEEN
    token = _header(headers, SIGNATURE_HEADER)
    if not token:
        raise CallbackVerificationError("missing_signature")
    try:
        header, claims, signing_input, signature = split_jws(token.strip())
    except ValueError:
        raise CallbackVerificationError("malformed") from None
    kid = header.get("kid")
    if header.get("alg") != "ES256" or header.get("typ") != TYP or not isinstance(kid, str):
        raise CallbackVerificationError("bad_header")
    try:
        key = _key_for(jwks_or_fetch, kid)
    except (ValueError, TypeError, KeyError):
        raise CallbackVerificationError("unknown_kid") from None
    if key is None:
        raise CallbackVerificationError("unknown_kid")
    try:
        verify_es256(key, signing_input, signature)
    except InvalidSignature:
        raise CallbackVerificationError("bad_signature") from None
    _check_claims(claims, channel_no, time.time() if now is None else now, tolerance_s)
    if not hmac.compare_digest(str(claims.get("bh", "")), sha256_b64url(body)):
        raise CallbackVerificationError("body_hash_mismatch")
    try:
        document = json.loads(body)
    except ValueError:
        raise CallbackVerificationError("body_invalid") from None
    if not isinstance(document, dict):
        raise CallbackVerificationError("body_invalid")
    if document.get("channel_no") != channel_no:
        raise CallbackVerificationError("wrong_channel")
    jti: str = claims["jti"]
    if jti.rsplit(".", 1)[0] != document.get("id"):
        raise CallbackVerificationError("id_mismatch")
    if seen is not None:
        try:
            first = seen.first_use(jti, int(claims["exp"]))
        except ReplayCacheFull:
            raise CallbackVerificationError("replay_cache_full") from None
        if not first:
            raise CallbackVerificationError("replayed")
    return EcardObject.construct(document)


def _check_claims(claims: Mapping[str, Any], channel_no: str, now: float,
                  tolerance_s: int) -> None:
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    if not (type(iat) is int and type(exp) is int and isinstance(jti, str) and jti):
        raise CallbackVerificationError("malformed")
    if claims.get("iss") != ISSUER:
        raise CallbackVerificationError("wrong_issuer")
    if claims.get("aud") != channel_no:
        raise CallbackVerificationError("wrong_audience")
    if now - iat > tolerance_s:
        raise CallbackVerificationError("stale")
    if iat - now > tolerance_s:
        raise CallbackVerificationError("issued_in_future")
    if exp <= now:
        raise CallbackVerificationError("expired")
    if exp - iat > TOKEN_TTL_S:
        raise CallbackVerificationError("lifetime_too_long")
