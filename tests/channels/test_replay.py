"""One conformance suite for every ReplayGuard: the database one (SQLite and
PostgreSQL) and the Redis one (skipped with a reason when no Redis is configured)."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ecard.channels.interfaces import ReplayGuard
from ecard.channels.models import UsedToken
from ecard.channels.replay import DatabaseReplayGuard, RedisReplayGuard, build_replay_guard
from ecard.clock import FrozenClock
from ecard.db import Database
from tests.conftest import REDIS_URL, _truncate_postgres


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        "redis"])
def guard(request: pytest.FixtureRequest, clock: FrozenClock,
          tmp_path: Path) -> Iterator[ReplayGuard]:
    if request.param != "redis":
        if request.param == "sqlite":
            shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "g.sqlite3")
            url = f"sqlite:///{tmp_path / 'g.sqlite3'}"
        else:
            url = request.getfixturevalue("postgres_database")
            _truncate_postgres(url)
        database = Database(url)
        yield DatabaseReplayGuard(database.engine, clock)
        database.dispose()
        return
    if not REDIS_URL:
        pytest.skip("Redis not configured: set ECARD_TEST_REDIS_URL to run the Redis guard")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"ecard-test:{uuid.uuid4().hex}:"  # one namespace per test
    yield RedisReplayGuard(client, clock, prefix=prefix)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_first_claim_wins_then_refused(guard: ReplayGuard, clock: FrozenClock) -> None:
    exp = clock.now() + timedelta(seconds=60)
    assert isinstance(guard, ReplayGuard)
    assert guard.claim("1000000001", "a" * 16, exp) is True
    assert guard.claim("1000000001", "a" * 16, exp) is False
    assert guard.claim("1000000001", "a" * 16, exp) is False


def test_jti_is_per_channel(guard: ReplayGuard, clock: FrozenClock) -> None:
    exp = clock.now() + timedelta(seconds=60)
    assert guard.claim("1000000001", "b" * 16, exp) is True
    assert guard.claim("1000000002", "b" * 16, exp) is True


def test_concurrent_claims_have_one_winner(guard: ReplayGuard, clock: FrozenClock) -> None:
    exp = clock.now() + timedelta(seconds=60)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(guard.claim("1000000001", "c" * 32, exp))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_database_guard_purges_expired_rows(db: Database, clock: FrozenClock) -> None:
    guard = DatabaseReplayGuard(db.engine, clock, grace_s=30)
    assert guard.claim("1000000001", "old-token-000001", clock.now() + timedelta(seconds=10))
    clock.advance(seconds=100)  # that token is long expired (beyond the grace)
    assert guard.claim("1000000001", "new-token-000001", clock.now() + timedelta(seconds=60))
    with db.sessionmaker() as session:
        jtis = session.scalars(select(UsedToken.jti)).all()
    assert jtis == ["new-token-000001"]


def test_database_guard_keeps_rows_inside_grace(db: Database, clock: FrozenClock) -> None:
    guard = DatabaseReplayGuard(db.engine, clock, grace_s=30)
    assert guard.claim("1000000001", "d" * 16, clock.now() + timedelta(seconds=10))
    clock.advance(seconds=20)
    assert guard.purge() == 0
    with db.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(UsedToken)) == 1


def test_redis_guard_sets_expiry(clock: FrozenClock) -> None:
    if not REDIS_URL:
        pytest.skip("Redis not configured: set ECARD_TEST_REDIS_URL to run the Redis guard")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"ecard-test:{uuid.uuid4().hex}:"
    guard = RedisReplayGuard(client, clock, prefix=prefix, grace_s=30)
    assert guard.claim("1000000001", "e" * 16, clock.now() + timedelta(seconds=60))
    ttl = client.ttl(f"{prefix}1000000001:{'e' * 16}")
    client.delete(f"{prefix}1000000001:{'e' * 16}")
    client.close()
    assert 80 <= ttl <= 90


def test_build_picks_redis_when_configured(db: Database, clock: FrozenClock) -> None:
    assert isinstance(build_replay_guard({}, db.engine, clock), DatabaseReplayGuard)
    guard = build_replay_guard({"REDIS_URL": "redis://127.0.0.1:1/0"}, db.engine, clock)
    assert isinstance(guard, RedisReplayGuard)
