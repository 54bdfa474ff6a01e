"""Channels registered directly through the services, and signed clients for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from ecard.audit.services import Actor
from ecard.channels.services import change_status, register_channel
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.support.channel_client import ChannelIdentity, SignedClient

OPERATOR = Actor("operator", "tester")
PATH_TO_ONLINE = {"applied": [], "testing": ["testing"], "online": ["testing", "online"],
                  "suspended": ["testing", "online", "suspended"], "exited": ["exited"]}

MakeChannel = Callable[..., ChannelIdentity]


def add_channel(platform: Platform, channel_no: str = "1000000001", *, status: str = "online",
                kid: str = "k1", parent_no: str | None = None, type: str = "bank",
                name: str = "测试银行") -> ChannelIdentity:
    identity = ChannelIdentity.generate(channel_no, kid)
    with platform.db.transaction() as session:
        register_channel(session, platform.clock, OPERATOR, channel_no=channel_no, name=name,
                         type=type, public_key=identity.public_pem, kid=kid,
                         parent_no=parent_no)
        for step in PATH_TO_ONLINE[status]:
            change_status(session, platform.clock, OPERATOR, channel_no, step)
    return identity


@pytest.fixture
def make_channel(platform: Platform) -> MakeChannel:
    def make(channel_no: str = "1000000001", **kw: Any) -> ChannelIdentity:
        return add_channel(platform, channel_no, **kw)
    return make


@pytest.fixture
def signed(app: Flask, clock: FrozenClock) -> Callable[[ChannelIdentity], SignedClient]:
    def make(identity: ChannelIdentity) -> SignedClient:
        return SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())
    return make
