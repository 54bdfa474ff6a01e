"""Verifying identity codes (亮码) at a terminal, with no network on the hot path.

:class:`OfflineVerifier` keeps the platform's JWKS (as loaded key objects) and the
signed status list, verifies each code with one ``cryptography`` ECDSA verify plus
a few microseconds of parsing, and checks the e-card's bit in the status list.

* **Freshness, reported and enforced.** Every :class:`VerifyResult` says how old the
  JWKS and the status list are. A list older than ``status_max_age_s`` (or past its
  own ``exp``) or a JWKS older than ``jwks_max_age_s`` refuses every code with a
  reason saying so (``status_list_stale`` / ``jwks_stale``), never a silent accept.
  The status list is refreshed when it is ``ttl`` old (60 s), the JWKS when half its
  maximum age has passed, and the JWKS also when a code names an unknown key id (at
  most once per ``kid_refresh_interval_s``). Failed fetches are retried at most
  every ``retry_interval_s``; the old data is kept meanwhile.
* **A clock set back does not help an attacker.** The verifier remembers the newest
  server time it has seen (the status list's ``iat``, the HTTP ``Date`` of a fetch),
  advanced since by the monotonic clock, and uses ``max(device clock, that)``: setting
  the device clock back neither revives expired codes nor makes a stale list look
  fresh.
* **Rollback.** A status list with a smaller ``seq`` than the one held is refused.

How long until a lost card is refused here: the platform rebuilds the list at most
every 60 s and this verifier fetches when its list is 60 s old, so within 120 s of
the loss (plus one code's 60 s life, 180 s, counting a code already on screen); the
platform stops issuing codes for the e-card at once, so its last code dies within
60 s anyway. Offline for longer than ``status_max_age_s``, the verifier refuses all.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec

from ecard_sdk.codes import IdentityClaims, InvalidCode, UnknownKey, keys_from_jwks, verify_code
from ecard_sdk.statuslist import StatusList, verify_status_list

# Reasons a code is refused (VerifyResult.reason).
INVALID = "invalid"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REFUSED = "revoked_or_suspended"
UNKNOWN_KEY = "unknown_key"
JWKS_STALE = "jwks_stale"
STATUS_LIST_STALE = "status_list_stale"
WRONG_SCENE = "wrong_scene"


class Fetched(NamedTuple):
    """What a fetcher returns: the body and, when known, the server's time (the HTTP
    ``Date`` header, Unix seconds)."""

    value: Any
    server_time: float | None = None


class VerifyResult(NamedTuple):
    """The verdict on one code, with the age of what it was judged against (a named
    tuple: built on every scan, it costs a fraction of a frozen dataclass)."""

    ok: bool
    reason: str | None
    claims: IdentityClaims | None
    checked_at: float
    jwks_age_s: float | None
    status_list_age_s: float | None
    status_list_seq: int | None


def _unwrap(result: Any) -> Fetched:
    return result if isinstance(result, Fetched) else Fetched(result, None)


class OfflineVerifier:
    def __init__(self, fetch_jwks: Callable[[], Any], fetch_status_list: Callable[[], Any], *,
                 jwks_max_age_s: float = 24 * 3600, status_max_age_s: float = 300,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 kid_refresh_interval_s: float = 30, retry_interval_s: float = 10,
                 future_skew_s: float = 30, expiry_leeway_s: float = 0) -> None:
        self._fetch_jwks = fetch_jwks
        self._fetch_status_list = fetch_status_list
        self.jwks_max_age_s = jwks_max_age_s
        self.status_max_age_s = status_max_age_s
        self._clock = clock
        self._monotonic = monotonic
        self.kid_refresh_interval_s = kid_refresh_interval_s
        self.retry_interval_s = retry_interval_s
        self.future_skew_s = future_skew_s
        self.expiry_leeway_s = expiry_leeway_s
        self._lock = threading.Lock()
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._jwks_at: float | None = None
        self._status: StatusList | None = None
        self._server_time: float | None = None  # newest server time seen ...
        self._server_mono = 0.0  # ... and the monotonic clock when it was seen
        self._next_jwks_try = float("-inf")
        self._next_status_try = float("-inf")
        self._next_kid_refresh = float("-inf")

    # -- time ----------------------------------------------------------------
    def now(self) -> float:
        """max(device clock, newest server time seen + monotonic time since)."""
        device = self._clock()
        if self._server_time is None:
            return device
        return max(device, self._server_time + (self._monotonic() - self._server_mono))

    def _saw_server_time(self, t: float | None) -> None:
        if t is None:
            return
        mono = self._monotonic()
        if self._server_time is None or t > self._server_time + (mono - self._server_mono):
            self._server_time, self._server_mono = t, mono

    # -- refreshing ----------------------------------------------------------
    def refresh_jwks(self) -> bool:
        """Fetch the JWKS now; False (old keys kept) when the fetch or parse fails."""
        with self._lock:
            return self._refresh_jwks()

    def _refresh_jwks(self) -> bool:
        self._next_jwks_try = self._monotonic() + self.retry_interval_s
        try:
            fetched = _unwrap(self._fetch_jwks())
            jwks = fetched.value
            if isinstance(jwks, str | bytes):
                jwks = json.loads(jwks)
            keys = keys_from_jwks(jwks)
        except Exception:  # any fetch failure: keep the old keys
            return False
        self._saw_server_time(fetched.server_time)
        self._keys, self._jwks_at = keys, self.now()
        return True

    def refresh_status_list(self) -> bool:
        """Fetch the status list now; False (old list kept) when it fails, does not
        verify, or is older (``seq``) than the one held."""
        with self._lock:
            return self._refresh_status_list()

    def _refresh_status_list(self) -> bool:
        self._next_status_try = self._monotonic() + self.retry_interval_s
        try:
            fetched = _unwrap(self._fetch_status_list())
            token = fetched.value
            token = token.decode("ascii") if isinstance(token, bytes) else str(token).strip()
            try:
                status = verify_status_list(token, self._keys)
            except UnknownKey:
                if not self._refresh_jwks():
                    return False
                status = verify_status_list(token, self._keys)
        except Exception:  # any failure: keep the old list
            return False
        if self._status is not None and status.sequence < self._status.sequence:
            return False
        self._saw_server_time(fetched.server_time)
        self._saw_server_time(float(status.iat))
        self._status = status
        return True

    def _maybe_refresh(self, now: float) -> None:
        mono = self._monotonic()
        status = self._status
        if (status is None or now - status.iat >= status.ttl) and mono >= self._next_status_try:
            with self._lock:
                self._refresh_status_list()
        if (self._jwks_at is None or now - self._jwks_at >= self.jwks_max_age_s / 2) \
                and mono >= self._next_jwks_try:
            with self._lock:
                self._refresh_jwks()

    # -- verifying -----------------------------------------------------------
    def verify(self, code: str, *, scene: str | None = None) -> VerifyResult:
        """Judge ``code`` (optionally for ``scene``); never raises for a bad code."""
        now = self.now()
        if self._needs_refresh(now):
            self._maybe_refresh(now)
            now = self.now()
        try:
            claims = verify_code(code, self._keys)
        except UnknownKey:
            refreshed = self._after_kid_refresh(code)
            now = self.now()
            if isinstance(refreshed, str):
                return self._result(False, refreshed, None, now)
            claims = refreshed
        except InvalidCode:
            return self._result(False, INVALID, None, now)
        status = self._status
        if self._jwks_at is None or now - self._jwks_at > self.jwks_max_age_s:
            return self._result(False, JWKS_STALE, claims, now)
        if status is None or now - status.iat > self.status_max_age_s or now >= status.exp:
            return self._result(False, STATUS_LIST_STALE, claims, now)
        if claims.iat > now + self.future_skew_s:
            return self._result(False, NOT_YET_VALID, claims, now)
        if now >= claims.exp + self.expiry_leeway_s:
            return self._result(False, EXPIRED, claims, now)
        if scene is not None and scene not in claims.scenes:
            return self._result(False, WRONG_SCENE, claims, now)
        if status.is_refused(claims.ecard_index):
            return self._result(False, REFUSED, claims, now)
        return self._result(True, None, claims, now)

    def _needs_refresh(self, now: float) -> bool:
        status = self._status
        return (status is None or now - status.iat >= status.ttl or self._jwks_at is None
                or now - self._jwks_at >= self.jwks_max_age_s / 2)

    def _after_kid_refresh(self, code: str) -> IdentityClaims | str:
        """A key rotated since the JWKS was fetched: refetch it (rate-limited), then
        the claims, or the reason the code is still refused."""
        with self._lock:
            if self._monotonic() >= self._next_kid_refresh:
                self._next_kid_refresh = self._monotonic() + self.kid_refresh_interval_s
                self._refresh_jwks()
        try:
            return verify_code(code, self._keys)
        except UnknownKey:
            return UNKNOWN_KEY
        except InvalidCode:
            return INVALID

    def _result(self, ok: bool, reason: str | None, claims: IdentityClaims | None,
                now: float) -> VerifyResult:
        status = self._status
        jwks_at = self._jwks_at
        if status is None:
            return VerifyResult(ok, reason, claims, now,
                                None if jwks_at is None else now - jwks_at, None, None)
        return VerifyResult(ok, reason, claims, now, None if jwks_at is None else now - jwks_at,
                            now - status.iat, status.sequence)

    @property
    def status_list(self) -> StatusList | None:
        return self._status

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)


def http_fetchers(base_url: str, *, timeout_s: float = 5.0
                  ) -> tuple[Callable[[], Fetched], Callable[[], Fetched]]:
    """Fetchers for the platform's ``/.well-known/jwks.json`` and ``/api/v1/status-list``
    (standard library only; each returns the body and the response's ``Date``)."""
    base = base_url.rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError("base_url must be an http(s) URL")

    def get(path: str) -> Fetched:
        with urllib.request.urlopen(base + path, timeout=timeout_s) as resp:  # noqa: S310
            body = resp.read()
            date = resp.headers.get("Date")
        server_time = email.utils.parsedate_to_datetime(date).timestamp() if date else None
        return Fetched(body, server_time)

    def jwks() -> Fetched:
        fetched = get("/.well-known/jwks.json")
        return Fetched(json.loads(fetched.value), fetched.server_time)

    def status_list() -> Fetched:
        return get("/api/v1/status-list")

    return jwks, status_list
