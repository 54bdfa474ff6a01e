"""Fixtures for level 2 and payments: a merchant (medical acquirer), the holder's
channel (a bank app), a level-1 e-card with a PIN (helpers in tests/support/payments.py;
``sms`` is in tests/conftest.py)."""

from __future__ import annotations

import pytest
from flask import Flask

from ecard.clock import FrozenClock
from ecard.payments.sms import CapturingSmsGateway
from ecard.platform import Platform
from tests.cards.helpers import make_channel
from tests.support.channel_client import ChannelIdentity, SignedClient
from tests.support.payments import (
    HOLDER_CH,
    MERCHANT,
    Card,
    Device,
    device_of,
    enable,
    issue_level1,
)


@pytest.fixture
def holder_ch(platform: Platform) -> ChannelIdentity:
    return make_channel(platform, HOLDER_CH, name="示例银行App", type="bank")


@pytest.fixture
def merchant_ch(platform: Platform) -> ChannelIdentity:
    return make_channel(platform, MERCHANT, name="示例医院", type="medical")


@pytest.fixture
def as_holder(app: Flask, holder_ch: ChannelIdentity, clock: FrozenClock) -> SignedClient:
    return SignedClient(app.test_client(), holder_ch, now=lambda: clock.now().timestamp())


@pytest.fixture
def as_merchant(app: Flask, merchant_ch: ChannelIdentity,
                clock: FrozenClock) -> SignedClient:
    return SignedClient(app.test_client(), merchant_ch, now=lambda: clock.now().timestamp())


@pytest.fixture
def card(platform: Platform, holder_ch: ChannelIdentity) -> Card:
    return issue_level1(platform, HOLDER_CH)


@pytest.fixture
def device(as_holder: SignedClient, sms: CapturingSmsGateway, card: Card) -> Device:
    return device_of(enable(as_holder, sms, card))
