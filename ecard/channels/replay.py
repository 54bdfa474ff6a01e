"""One-time token ids (``jti``): in the database, or in Redis when one is configured.

Both stores are shared by every worker on every machine, so a token accepted by one
process is refused by all the others. Nothing lives in a process's memory.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ecard.channels.interfaces import ReplayGuard
from ecard.channels.models import UsedToken
from ecard.clock import Clock


class DatabaseReplayGuard:
    """Inserts one ``used_tokens`` row per accepted token; the primary key on
    (channel_no, jti) makes the second insert fail at the database.

    Each claim runs in its own short transaction on the engine, apart from the
    request's session: a duplicate then rolls back only its own insert, and an
    accepted token stays spent even if the request fails later (the caller signs a
    fresh one anyway). Core, not an ORM session: this is on every call's path.
    """

    def __init__(self, engine: Engine, clock: Clock, *,
                 purge_every_s: float = 60.0, grace_s: int = 30) -> None:
        self._engine = engine
        self._clock = clock
        self._purge_every = timedelta(seconds=purge_every_s)
        self._grace = timedelta(seconds=grace_s)
        self._next_purge: datetime | None = None
        self._lock = threading.Lock()

    def claim(self, channel_no: str, jti: str, expires_at: datetime) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(UsedToken).values(
                    channel_no=channel_no, jti=jti, expires_at=expires_at))
        except IntegrityError:
            return False
        self._maybe_purge()
        return True

    def _maybe_purge(self) -> None:
        """Delete rows whose tokens expired (plus a clock-skew grace), at most once a
        minute per process: an expired token is refused before its jti is looked at,
        so its row serves no purpose any more."""
        now = self._clock.now()
        with self._lock:
            if self._next_purge is not None and now < self._next_purge:
                return
            self._next_purge = now + self._purge_every
        self.purge(now)

    def purge(self, now: datetime | None = None) -> int:
        cutoff = (now or self._clock.now()) - self._grace
        with self._engine.begin() as conn:
            result = conn.execute(delete(UsedToken).where(UsedToken.expires_at < cutoff))
        return int(result.rowcount or 0)


class RedisReplayGuard:
    """``SET key 1 NX EX ttl``: Redis answers ``None`` when the key already exists, and
    forgets the key on its own once the token has expired (plus a grace)."""

    def __init__(self, client: Any, clock: Clock, *, prefix: str = "ecard:jti:",
                 grace_s: int = 30) -> None:
        self._redis = client
        self._clock = clock
        self._prefix = prefix
        self._grace_s = grace_s

    @classmethod
    def from_url(cls, url: str, clock: Clock, *, prefix: str = "ecard:jti:",
                 grace_s: int = 30) -> RedisReplayGuard:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0),
                   clock, prefix=prefix, grace_s=grace_s)

    def claim(self, channel_no: str, jti: str, expires_at: datetime) -> bool:
        remaining = (expires_at - self._clock.now()).total_seconds()
        ttl = max(1, math.ceil(remaining)) + self._grace_s
        return bool(self._redis.set(f"{self._prefix}{channel_no}:{jti}", b"1", nx=True, ex=ttl))


def build_replay_guard(config: dict[str, Any], engine: Engine, clock: Clock) -> ReplayGuard:
    """Redis when ``REDIS_URL`` is set, else the database."""
    grace = int(config.get("CLOCK_SKEW_S", 30))
    url = config.get("REDIS_URL")
    if url:
        return RedisReplayGuard.from_url(str(url), clock, grace_s=grace)
    return DatabaseReplayGuard(engine, clock, grace_s=grace)
