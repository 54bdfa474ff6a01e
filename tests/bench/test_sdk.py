"""``sdk_call_overhead_ms``: what the SDK adds to a signed call, against a raw one.

A real ``python -m ecard serve`` (gunicorn, 2 sync workers) on loopback with a temp
SQLite instance and one online channel. Both clients call ``POST /api/v1/ping`` (the
channel-token check and its one-time ``jti`` insert) one call at a time, in the same
run, alternating in blocks so drift and the neighbours' load hit both:

* **SDK**: ``EcardClient.ping()`` - token signed with ``cryptography``, an
  ``Idempotency-Key``, the call through urllib3, the answer parsed into an
  ``EcardObject``.
* **raw**: what an integrator writes by hand - ``requests.Session().post`` with a
  token hand-signed by PyJWT (key object loaded once), the same headers and body,
  ``response.json()``.

Reported: the median latency of each (ms), their difference
(``sdk_call_overhead_ms``, negative when the SDK is faster) and ratio. Every answer
must be a 200 ``{"ok": true}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import requests
from ecard_sdk import EcardClient

from ecard.audit.services import Actor
from ecard.channels.services import change_status, register_channel
from ecard.config import load_config
from ecard.platform import Platform
from ecard.protect import generate_master_key
from tests.bench.conftest import merge_results
from tests.bench.support_server import ecard_cli, running_server
from tests.support.channel_client import ChannelIdentity

CALLS = int(os.environ.get("ECARD_BENCH_SDK_CALLS", "600"))  # per client
BLOCK = 50
WARMUP = 20
CHANNEL = "1000000001"
PATH = "/api/v1/ping"
BODY = b"{}"

pytestmark = pytest.mark.bench


def _register_channel(env: dict[str, str]) -> ChannelIdentity:
    config = load_config(environ={}, overrides={
        "DATABASE_URL": env["ECARD_DATABASE_URL"], "MASTER_KEY": env["ECARD_MASTER_KEY"],
        "INSTANCE_DIR": env["ECARD_INSTANCE_DIR"]})
    platform = Platform.build(config)
    identity = ChannelIdentity.generate(CHANNEL, "bench-k1")
    operator = Actor("operator", "bench")
    try:
        with platform.db.transaction() as session:
            register_channel(session, platform.clock, operator, channel_no=CHANNEL,
                             name="示例银行App", type="bank", public_key=identity.public_pem,
                             kid=identity.kid)
            for step in ("testing", "online"):
                change_status(session, platform.clock, operator, CHANNEL, step)
    finally:
        platform.db.dispose()
    return identity


def _raw_caller(base: str, identity: ChannelIdentity) -> Callable[[], None]:
    session = requests.Session()
    key = identity.private_key  # loaded once, as the SDK does
    bh = base64.urlsafe_b64encode(hashlib.sha256(BODY).digest()).rstrip(b"=").decode()

    def call() -> None:
        iat = int(time.time())
        token = jwt.encode({"iss": CHANNEL, "aud": "ecard-api", "iat": iat, "exp": iat + 60,
                            "jti": secrets.token_urlsafe(18), "htm": "POST", "htu": PATH,
                            "bh": bh}, key, algorithm="ES256",
                           headers={"kid": identity.kid, "typ": "ecard-channel+jwt"})
        res = session.post(base + PATH, data=BODY, timeout=10, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": uuid.uuid4().hex})
        assert res.status_code == 200 and res.json() == {"ok": True}, res.text

    return call


def _timed(call: Callable[[], None], n: int, into: list[float]) -> None:
    for _ in range(n):
        start = time.perf_counter()
        call()
        into.append((time.perf_counter() - start) * 1000)


def test_sdk_call_overhead(tmp_path: Path) -> None:
    env = {"ECARD_DATABASE_URL": f"sqlite:///{tmp_path / 'ecard.sqlite3'}",
           "ECARD_MASTER_KEY": generate_master_key(),
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance"),
           "ECARD_RATELIMIT": "10000000 per minute"}
    ecard_cli("init", env={**os.environ, **env})
    identity = _register_channel(env)
    with running_server(env, tmp_path / "server.log", workers=2) as base:
        client = EcardClient(base, CHANNEL, identity.private_key, kid=identity.kid,
                             max_network_retries=0)

        def sdk_call() -> None:
            assert client.ping() == {"ok": True}

        raw_call = _raw_caller(base, identity)
        sdk_ms: list[float] = []
        raw_ms: list[float] = []
        _timed(sdk_call, WARMUP, [])
        _timed(raw_call, WARMUP, [])
        for _ in range(CALLS // BLOCK):
            _timed(sdk_call, BLOCK, sdk_ms)
            _timed(raw_call, BLOCK, raw_ms)
        client.close()
    sdk, raw = statistics.median(sdk_ms), statistics.median(raw_ms)
    results = {"sdk_call_ms": round(sdk, 3), "raw_signed_call_ms": round(raw, 3),
               "sdk_call_overhead_ms": round(sdk - raw, 3),
               "sdk_call_over_raw_ratio": round(sdk / raw, 3)}
    print(json.dumps(results | {"calls_each": len(sdk_ms),
                                "sdk_p90_ms": round(statistics.quantiles(sdk_ms, n=10)[-1], 3),
                                "raw_p90_ms": round(statistics.quantiles(raw_ms, n=10)[-1], 3)}))
    merge_results(results)
    # The SDK must not cost more than a hand-written call by a noticeable margin.
    assert sdk - raw < 1.0, results
