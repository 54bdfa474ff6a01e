"""``channel_auth_overhead_ms``: an authenticated no-op against an unauthenticated one.

Both run in the same process, same run, through Flask's test client, interleaved
call by call so that drift (CPU frequency, caches) hits both equally. Tokens are
signed before the clock starts: what is measured is the server's side (parse,
verify ES256, checks, one-time jti insert), not the channel's signing.
The raw ES256 verify of ``cryptography`` is the baseline for the ratio.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from ecard import create_app
from ecard.channels.flask_auth import EXTENSION
from ecard.clock import SystemClock
from ecard.migrations import upgrade
from ecard.protect import generate_master_key
from tests.bench.conftest import merge_results
from tests.channels.conftest import add_channel
from tests.support.channel_client import ChannelIdentity

CALLS = int(os.environ.get("ECARD_BENCH_CALLS", "3000"))
WARMUP = 200
BODY = b"{}"


def _app(tmp_path: Path, **extra: Any) -> Flask:
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    if not (tmp_path / "bench.sqlite3").exists():
        upgrade(url)
    return create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": generate_master_key(),
                       "INSTANCE_DIR": str(tmp_path / "instance"),
                       "RATELIMIT_DEFAULT": "10000000 per minute", **extra},
                      clock=SystemClock())


@pytest.fixture
def bench_app(tmp_path: Path) -> Iterator[Flask]:
    app = _app(tmp_path)
    yield app
    app.extensions["ecard"].db.dispose()


def _measure(app: Flask, identity: ChannelIdentity, calls: int) -> tuple[list[float],
                                                                        list[float]]:
    client = app.test_client()
    now = time.time()
    tokens = [identity.token("POST", "/api/v1/ping", BODY, now=now, lifetime=300)
              for _ in range(calls + WARMUP)]
    headers = [{"Authorization": f"Bearer {t}", "Content-Type": "application/json"}
               for t in tokens]
    health: list[float] = []
    ping: list[float] = []
    clock = time.perf_counter
    for i in range(calls + WARMUP):
        t0 = clock()
        r1 = client.get("/api/v1/health")
        t1 = clock()
        r2 = client.post("/api/v1/ping", data=BODY, headers=headers[i])
        t2 = clock()
        assert r1.status_code == 200 and r2.status_code == 200, r2.get_json()
        if i >= WARMUP:
            health.append((t1 - t0) * 1000)
            ping.append((t2 - t1) * 1000)
    return health, ping


def _raw_verify_ms(samples: int = 2000) -> float:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    data = b"x" * 300
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    t0 = time.perf_counter()
    for _ in range(samples):
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    return (time.perf_counter() - t0) * 1000 / samples


class _AcceptAll:
    """A guard that remembers nothing: isolates the cost of the jti store."""

    def claim(self, channel_no: str, jti: str, expires_at: Any) -> bool:
        return True


def _authenticate_ms(app: Flask, identity: ChannelIdentity, calls: int) -> tuple[float, float]:
    """Mean ms of ``authenticate`` alone (no Flask): with the app's jti store, and
    with a store that does nothing (parse + ES256 verify + checks only)."""
    auth = app.extensions[EXTENSION]
    means: list[float] = []
    for guard in (auth.replay_guard, _AcceptAll()):
        auth.replay_guard = guard
        now = time.time()
        headers = [f"Bearer {identity.token('POST', '/api/v1/ping', BODY, now=now)}"
                   for _ in range(calls)]
        t0 = time.perf_counter()
        for header in headers:
            auth.authenticate(method="POST", path_with_query="/api/v1/ping", body=BODY,
                              authorization_header=header)
        means.append((time.perf_counter() - t0) * 1000 / calls)
    return means[0], means[1]


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)


@pytest.mark.bench
def test_channel_auth_overhead(bench_app: Flask, tmp_path: Path) -> None:
    identity = add_channel(bench_app.extensions["ecard"], "1000000001")
    health, ping = _measure(bench_app, identity, CALLS)
    raw = _raw_verify_ms()
    with_jti, checks_only = _authenticate_ms(bench_app, identity, CALLS)
    overhead = statistics.fmean(ping) - statistics.fmean(health)
    metrics = {
        "channel_auth_overhead_ms": _r(overhead),
        "channel_auth_ping_mean_ms": _r(statistics.fmean(ping)),
        "channel_auth_ping_p50_ms": _r(statistics.median(ping)),
        "channel_auth_ping_p99_ms": _r(_p(ping, 99)),
        "channel_auth_health_mean_ms": _r(statistics.fmean(health)),
        "channel_auth_health_p50_ms": _r(statistics.median(health)),
        "channel_auth_authenticate_ms": _r(with_jti),
        "channel_auth_checks_without_jti_ms": _r(checks_only),
        "es256_verify_raw_ms": _r(raw, 4),
        "channel_auth_checks_over_raw_verify": _r(checks_only / raw, 2),
        "channel_auth_overhead_over_raw_verify": _r(overhead / raw, 2),
        "channel_auth_calls": CALLS,
    }
    redis_url = os.environ.get("ECARD_TEST_REDIS_URL")
    if redis_url:  # the same with the jti set in Redis (production's choice)
        redis_app = _app(tmp_path, REDIS_URL=redis_url)
        try:
            r_health, r_ping = _measure(redis_app, identity, CALLS)
        finally:
            redis_app.extensions["ecard"].db.dispose()
        metrics["channel_auth_overhead_redis_ms"] = _r(
            statistics.fmean(r_ping) - statistics.fmean(r_health))
    merge_results(metrics)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in metrics.items()))
    assert overhead < 25, "channel authentication should cost milliseconds, not more"


