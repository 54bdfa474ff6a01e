"""``payment_redeem_per_s``: payment codes redeemed through the HTTP API under gunicorn.

A real ``python -m ecard serve --workers 2`` on loopback, against a temp SQLite file
and, when ``ECARD_TEST_POSTGRES_URL`` is set, against a fresh private PostgreSQL
database. Data is prepared in this process through the platform's services (the
same database and master key): a holder channel (bank) and a merchant channel
(medical), N holders with level-1 e-cards, then level 2 through the service the
API uses (SMS code read from a capturing gateway, device enrolled), keeping each
device's slot and secret.

The load is bounded: a fixed number of requests from a pool of threads, each
``POST /api/v1/payments`` with a fresh code of a device used only once, an amount
under the no-PIN limit (captured at once) and a unique order id, signed as the
merchant. Every answer must be 201 and ``captured``: a benchmark that counts
failures measures nothing. The baseline in the same run, against the same server,
with the same load shape: ``POST /api/v1/ping``, the channel JWT check alone (its
one-time ``jti`` insert included); and, to show what the harness itself allows,
``GET /api/v1/health`` (no auth, no database write). The three phases alternate
(two rounds) so that drift and the neighbours' load hit all of them. No
``Idempotency-Key`` is sent (payments are idempotent on the order id; the SDK does
not send one).

Latency is closed-loop: ``THREADS`` requests in flight against 2 sync workers, so it
includes the wait in gunicorn's backlog, not only the service time.

The client signs each token (and derives each code) in its worker thread just
before the call; latency is the HTTP call alone, throughput is requests over the
phase's wall time. Client and server share the machine's cores.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from ecard.audit.services import Actor
from ecard.channels.services import change_status, register_channel
from ecard.config import load_config
from ecard.payments.codes import generate_payment_code_at_time
from ecard.payments.models import Payment
from ecard.payments.sms import CapturingSmsGateway
from ecard.payments.views import SMS_EXTRA, level2_service
from ecard.platform import Platform
from ecard.protect import generate_master_key
from tests.bench.conftest import merge_results
from tests.bench.support_server import ecard_cli, running_server
from tests.support.channel_client import ChannelIdentity
from tests.support.factories import make_holder, make_id_number
from tests.support.payments import insert_level1_ecard

PAYMENTS = int(os.environ.get("ECARD_BENCH_PAYMENTS", "500"))
THREADS = int(os.environ.get("ECARD_BENCH_THREADS", "8"))
WARMUP = 2 * THREADS  # per kind, not measured
ROUNDS = 2  # ping, payments, ping, payments: each phase half the requests
AMOUNT_FEN = 100  # far under the no-PIN limit (20000): captured without the PIN
HOLDER_CH = "1000000001"
MERCHANT_CH = "3000000003"
OPERATOR = Actor("operator", "bench")
POSTGRES_URL = os.environ.get("ECARD_TEST_POSTGRES_URL")
REQUEST_TIMEOUT_S = 30
PING_BODY = b"{}"


@dataclass(frozen=True)
class Device:
    slot: int
    secret: bytes


@dataclass(frozen=True)
class Sample:
    ms: float
    status: int
    ok: bool
    detail: str


# -- instance ---------------------------------------------------------------------
def _private_postgres_database() -> tuple[str, Callable[[], None]]:
    """A fresh database on the configured server; its URL and a dropper."""
    assert POSTGRES_URL
    name = f"ecard_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The server's environment: database, master key, instance folder, rate limit.
    The schema and a signing key come from ``python -m ecard init``."""
    drop: Callable[[], None] | None = None
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL not configured: set ECARD_TEST_POSTGRES_URL to run "
                        "the payment bench on it")
        url, drop = _private_postgres_database()
        from ecard.migrations import upgrade
        upgrade(url)
    else:
        url = f"sqlite:///{tmp_path / 'ecard.sqlite3'}"
    env = {"ECARD_DATABASE_URL": url, "ECARD_MASTER_KEY": generate_master_key(),
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance"),
           "ECARD_RATELIMIT": "10000000 per minute", "ECARD_BACKEND": request.param}
    try:
        ecard_cli("init", env={**os.environ, **env})
        yield env
    finally:
        if drop is not None:
            drop()


def _platform(env: dict[str, str]) -> Platform:
    config = load_config(environ={}, overrides={
        "DATABASE_URL": env["ECARD_DATABASE_URL"], "MASTER_KEY": env["ECARD_MASTER_KEY"],
        "INSTANCE_DIR": env["ECARD_INSTANCE_DIR"]})
    return Platform.build(config)


# -- data through the platform's services -------------------------------------------
def _channel(platform: Platform, channel_no: str, name: str, type: str) -> ChannelIdentity:
    identity = ChannelIdentity.generate(channel_no, "bench-k1")
    with platform.db.transaction() as session:
        register_channel(session, platform.clock, OPERATOR, channel_no=channel_no, name=name,
                         type=type, public_key=identity.public_pem, kid=identity.kid)
        for step in ("testing", "online"):
            change_status(session, platform.clock, OPERATOR, channel_no, step)
    return identity


def _level1(platform: Platform, seq: int) -> str:
    """A holder (no photo) and a level-1 e-card in the holder channel; its sign no."""
    birth = (date(1950, 1, 1) + timedelta(days=seq // 999)).strftime("%Y%m%d")
    holder = make_holder(platform, id_number=make_id_number("110101", birth,
                                                            f"{seq % 999 + 1:03d}"),
                         card_no=f"B{seq:08d}")
    with platform.db.transaction() as session:
        return insert_level1_ecard(session, platform, holder, HOLDER_CH).sign_no


def _level2(platform: Platform, sms: CapturingSmsGateway, sign_no: str) -> Device:
    """The API's path: an SMS code to the reserved phone, then code + device id."""
    service = level2_service(platform)
    with platform.db.transaction() as session:
        service.request_sms(session, HOLDER_CH, sign_no)
    match = re.search(r"验证码(\d{6})", sms.messages()[-1].text)
    assert match, sms.messages()[-1].text
    with platform.db.transaction() as session:
        enrolment = service.confirm(session, HOLDER_CH, sign_no, match.group(1),
                                    f"bench-phone-{sign_no}")
    assert enrolment.level == 2
    return Device(enrolment.device_slot, enrolment.secret)


def _prepare(platform: Platform, count: int) -> tuple[ChannelIdentity, list[Device]]:
    sms = CapturingSmsGateway()
    platform.extras[SMS_EXTRA] = sms
    _channel(platform, HOLDER_CH, "示例银行App", "bank")
    merchant = _channel(platform, MERCHANT_CH, "示例医院", "medical")
    devices = [_level2(platform, sms, _level1(platform, seq)) for seq in range(count)]
    assert len({d.slot for d in devices}) == count
    return merchant, devices


# -- load -----------------------------------------------------------------------------
Call = Callable[[requests.Session, int], Sample]


def _run(call: Call, indexes: list[int]) -> tuple[list[Sample], float]:
    """``call`` once per index from ``THREADS`` threads; samples and wall seconds."""
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def one(i: int) -> Sample:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            with lock:
                sessions.append(session)
        return call(session, i)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        samples = list(pool.map(one, indexes))
    wall = time.perf_counter() - t0
    for session in sessions:
        session.close()
    return samples, wall


def _post(session: requests.Session, url: str, body: bytes, token: str) -> tuple[
        requests.Response, float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    t0 = time.perf_counter()
    res = session.post(url, data=body, headers=headers, timeout=REQUEST_TIMEOUT_S)
    return res, (time.perf_counter() - t0) * 1000


def _health_call(base: str) -> Call:
    def call(session: requests.Session, i: int) -> Sample:
        t0 = time.perf_counter()
        res = session.get(base + "/api/v1/health", timeout=REQUEST_TIMEOUT_S)
        ms = (time.perf_counter() - t0) * 1000
        return Sample(ms, res.status_code, res.ok, "" if res.ok else res.text[:300])
    return call


def _ping_call(base: str, merchant: ChannelIdentity) -> Call:
    def call(session: requests.Session, i: int) -> Sample:
        token = merchant.token("POST", "/api/v1/ping", PING_BODY)
        res, ms = _post(session, base + "/api/v1/ping", PING_BODY, token)
        ok = res.status_code == 200 and res.json() == {"ok": True}
        return Sample(ms, res.status_code, ok, "" if ok else res.text[:300])
    return call


def _pay_call(base: str, merchant: ChannelIdentity, devices: list[Device],
              run_id: str) -> Call:
    def call(session: requests.Session, i: int) -> Sample:
        dev = devices[i]
        body = json.dumps({
            "code": generate_payment_code_at_time(dev.secret, dev.slot, time.time()),
            "amount_fen": AMOUNT_FEN, "currency": "CNY", "scene": "02",
            "order_id": f"bench-{run_id}-{i}"}).encode()
        token = merchant.token("POST", "/api/v1/payments", body)
        res, ms = _post(session, base + "/api/v1/payments", body, token)
        ok = False
        if res.status_code == 201:
            answer = res.json()
            ok = answer.get("status") == "captured" and answer.get("amount_fen") == AMOUNT_FEN
        return Sample(ms, res.status_code, ok, "" if ok else res.text[:300])
    return call


def _check(kind: str, samples: list[Sample]) -> None:
    bad = [s for s in samples if not s.ok]
    assert not bad, (f"{len(bad)}/{len(samples)} {kind} requests failed, e.g. "
                     f"{[(s.status, s.detail) for s in bad[:3]]}")


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _chunks(start: int, total: int, parts: int) -> list[list[int]]:
    size = total // parts
    return [list(range(start + k * size, start + (k + 1) * size if k < parts - 1
                       else start + total)) for k in range(parts)]


@pytest.mark.bench
def test_payment_redeem_over_http(instance: dict[str, str], tmp_path: Path) -> None:
    backend = instance["ECARD_BACKEND"]
    platform = _platform(instance)
    try:
        t0 = time.perf_counter()
        merchant, devices = _prepare(platform, WARMUP + PAYMENTS)
        prepare_s = time.perf_counter() - t0
    finally:
        platform.db.dispose()
    run_id = uuid.uuid4().hex[:8]
    server_env = {k: v for k, v in instance.items() if k != "ECARD_BACKEND"}
    load_before = os.getloadavg()[0]
    walls = {"health": 0.0, "ping": 0.0, "payment": 0.0}
    got: dict[str, list[Sample]] = {kind: [] for kind in walls}
    client_cpu_s = 0.0
    with running_server(server_env, tmp_path / "server.log", workers=2) as base:
        calls = {"health": _health_call(base), "ping": _ping_call(base, merchant),
                 "payment": _pay_call(base, merchant, devices, run_id)}
        for kind, call in calls.items():  # warm-up: connections, both workers, caches
            _check(f"warm-up {kind}", _run(call, list(range(WARMUP)))[0])
        plans = {"health": _chunks(0, PAYMENTS, ROUNDS), "ping": _chunks(0, PAYMENTS, ROUNDS),
                 "payment": _chunks(WARMUP, PAYMENTS, ROUNDS)}
        for r in range(ROUNDS):
            for kind, call in calls.items():
                cpu0 = time.process_time()
                samples, wall = _run(call, plans[kind][r])
                client_cpu_s += time.process_time() - cpu0
                _check(kind, samples)
                got[kind] += samples
                walls[kind] += wall
    load_after = os.getloadavg()[0]

    # What the server wrote: one captured payment per request, none else.
    platform = _platform(instance)
    try:
        with platform.db.transaction() as session:
            captured = session.scalar(select(func.count()).select_from(Payment).where(
                Payment.merchant_no == MERCHANT_CH, Payment.status == "captured"))
            assert captured == WARMUP + PAYMENTS
            total = session.scalar(select(func.coalesce(func.sum(Payment.amount_fen), 0))
                                   .where(Payment.merchant_no == MERCHANT_CH))
            assert total == (WARMUP + PAYMENTS) * AMOUNT_FEN
    finally:
        platform.db.dispose()

    pay_ms = [s.ms for s in got["payment"]]
    ping_ms = [s.ms for s in got["ping"]]
    pay_rate = len(pay_ms) / walls["payment"]
    ping_rate = len(ping_ms) / walls["ping"]
    health_rate = len(got["health"]) / walls["health"]
    metrics = {
        f"payment_redeem_per_s_{backend}": round(pay_rate, 1),
        f"payment_redeem_p50_ms_{backend}": round(statistics.median(pay_ms), 2),
        f"payment_redeem_p99_ms_{backend}": round(_p(pay_ms, 99), 2),
        f"ping_per_s_{backend}": round(ping_rate, 1),
        f"ping_p50_ms_{backend}": round(statistics.median(ping_ms), 2),
        f"ping_p99_ms_{backend}": round(_p(ping_ms, 99), 2),
        f"payment_vs_ping_ratio_{backend}": round(pay_rate / ping_rate, 3),
        f"health_per_s_{backend}": round(health_rate, 1),
        f"payment_redeem_requests_{backend}": len(pay_ms),
        f"payment_bench_threads_{backend}": THREADS,
    }
    merge_results(metrics)
    print(f"\n[{backend}] {WARMUP + PAYMENTS} level-2 devices prepared in {prepare_s:.1f} s; "
          f"{len(pay_ms)} payments and {len(ping_ms)} pings, {THREADS} threads, "
          f"gunicorn 2 sync workers, {os.cpu_count()} cores shared with the client")
    print(f"load average {load_before:.2f} before, {load_after:.2f} after; the client "
          f"used {client_cpu_s:.1f} s CPU over {sum(walls.values()):.1f} s of load")
    print("\n".join(f"{k}: {v}" for k, v in metrics.items()))
