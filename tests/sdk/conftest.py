"""The SDK against a real HTTP server: the backend app on a loopback port (and a
misbehaving proxy in front of it when a test needs one), channels registered through
the real service, e-cards built with the test factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ecard_sdk import EcardClient
from flask import Flask

from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.channels.conftest import add_channel
from tests.sdk.servers import FlakyProxy, serving
from tests.support.channel_client import ChannelIdentity
from tests.support.payments import HOLDER_CH, MERCHANT, Card, issue_level1

MakeClient = Callable[..., EcardClient]


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def proxy(base_url: str) -> Iterator[FlakyProxy]:
    with FlakyProxy(base_url).running() as running:
        yield running


@pytest.fixture
def holder_ch(platform: Platform) -> ChannelIdentity:
    return add_channel(platform, HOLDER_CH, type="bank", name="示例银行App")


@pytest.fixture
def merchant_ch(platform: Platform) -> ChannelIdentity:
    return add_channel(platform, MERCHANT, type="medical", name="示例医院")


@pytest.fixture
def card(platform: Platform, holder_ch: ChannelIdentity) -> Card:
    return issue_level1(platform, HOLDER_CH)


@pytest.fixture
def sleeps() -> list[float]:
    """What the clients under test slept between retries (they never really sleep)."""
    return []


@pytest.fixture
def make_client(base_url: str, clock: FrozenClock, sleeps: list[float]) -> Iterator[MakeClient]:
    made: list[EcardClient] = []

    def make(identity: ChannelIdentity, url: str | None = None, **kw: Any) -> EcardClient:
        options: dict[str, Any] = {
            "kid": identity.kid, "accept_language": "en", "timeout": 10.0,
            "clock": lambda: clock.now().timestamp(), "sleep": sleeps.append,
            "jitter": lambda: 1.0, **kw}
        client = EcardClient(url or base_url, identity.channel_no, identity.private_key,
                             **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def holder(make_client: MakeClient, holder_ch: ChannelIdentity) -> EcardClient:
    return make_client(holder_ch)


@pytest.fixture
def merchant(make_client: MakeClient, merchant_ch: ChannelIdentity) -> EcardClient:
    return make_client(merchant_ch)
