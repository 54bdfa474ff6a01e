from __future__ import annotations

from pathlib import Path

import pytest

from ecard.cards.services import CardService
from ecard.platform import Platform
from tests.cards.helpers import ENROL, make_channel, service
from tests.support.channel_client import ChannelIdentity
from tests.support.factories import Holder, make_holder

BANK = "1000000001"
GOV = "2000000002"


@pytest.fixture
def svc(cached_platform: Platform) -> CardService:
    return service(cached_platform)


@pytest.fixture
def bank(cached_platform: Platform) -> ChannelIdentity:
    return make_channel(cached_platform, BANK, name="示例银行", type="bank")


@pytest.fixture
def gov(cached_platform: Platform) -> ChannelIdentity:
    return make_channel(cached_platform, GOV, name="政务服务App", type="government")


@pytest.fixture
def holder(cached_platform: Platform, faces_dir: Path) -> Holder:
    return make_holder(cached_platform, name="张三", photo=faces_dir / ENROL)
