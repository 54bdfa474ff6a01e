"""Rate limits: per channel once authenticated, per address otherwise; 429 envelope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from ecard import create_app
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.channels.conftest import add_channel
from tests.support.channel_client import ChannelIdentity, SignedClient


@pytest.fixture
def limited_app(test_config: dict[str, Any], clock: FrozenClock) -> Iterator[Flask]:
    app = create_app({**test_config, "RATELIMIT_DEFAULT": "3 per minute"}, clock=clock)
    yield app
    app.extensions["ecard"].db.dispose()


def _signed(app: Flask, identity: ChannelIdentity, clock: FrozenClock) -> SignedClient:
    return SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())


def _is_429(response: Any) -> None:
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert body["code"] == "RATE_LIMITED"
    assert body["request_id"]


def test_budget_is_per_channel(limited_app: Flask, clock: FrozenClock) -> None:
    platform: Platform = limited_app.extensions["ecard"]
    first = _signed(limited_app, add_channel(platform, "1000000001"), clock)
    second = _signed(limited_app, add_channel(platform, "1000000002"), clock)
    for _ in range(3):
        assert first.post("/api/v1/ping").status_code == 200
    response = first.post("/api/v1/ping")
    _is_429(response)
    assert response.get_json()["details"]["retry_after_s"] >= 1
    assert response.headers["Retry-After"] == str(response.get_json()["details"]["retry_after_s"])
    # same client address, other channel: its own budget
    assert second.post("/api/v1/ping").status_code == 200


def test_refused_tokens_count_against_the_address(limited_app: Flask,
                                                  clock: FrozenClock) -> None:
    client = limited_app.test_client()
    for _ in range(3):
        assert client.post("/api/v1/ping", headers={"Authorization": "Bearer x"}
                           ).status_code == 401
    _is_429(client.post("/api/v1/ping", headers={"Authorization": "Bearer x"}))
    # a real channel calling from the same address is not starved by the flood
    platform: Platform = limited_app.extensions["ecard"]
    good = _signed(limited_app, add_channel(platform, "1000000001"), clock)
    assert good.post("/api/v1/ping").status_code == 200


def test_unauthenticated_endpoints_limited_per_address(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/health").status_code == 200
    _is_429(client.get("/api/v1/health"))
    other = limited_app.test_client()
    response = other.get("/api/v1/health", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 200


def test_redis_shares_budgets_and_jtis_between_apps(test_config: dict[str, Any],
                                                    clock: FrozenClock) -> None:
    """Two apps on one Redis behave as one: one budget per channel, one jti set."""
    from tests.conftest import REDIS_URL
    if not REDIS_URL:
        pytest.skip("Redis not configured: set ECARD_TEST_REDIS_URL to run this")
    import uuid
    config = {**test_config, "RATELIMIT_DEFAULT": "3 per minute", "REDIS_URL": REDIS_URL,
              "RATELIMIT_KEY_PREFIX": f"ecard-test-{uuid.uuid4().hex}"}
    apps = [create_app(config, clock=clock) for _ in range(2)]
    try:
        platform: Platform = apps[0].extensions["ecard"]
        identity = add_channel(platform, "1000000001")
        token = identity.token("POST", "/api/v1/ping", b"{}", now=clock.now().timestamp())
        headers = {"Authorization": f"Bearer {token}"}
        assert apps[0].test_client().post("/api/v1/ping", data=b"{}",
                                          headers=headers).status_code == 200
        replay = apps[1].test_client().post("/api/v1/ping", data=b"{}", headers=headers)
        assert replay.get_json()["code"] == "AUTH_REPLAYED"
        a, b = (_signed(app, identity, clock) for app in apps)
        assert a.post("/api/v1/ping").status_code == 200
        assert b.post("/api/v1/ping").status_code == 200  # third call of the budget
        _is_429(a.post("/api/v1/ping"))
        _is_429(b.post("/api/v1/ping"))
    finally:
        for app in apps:
            app.extensions["ecard"].db.dispose()
