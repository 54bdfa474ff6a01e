"""Every channel type has one adapter; the adapters conform to the interface and
release exactly what the one policy table says (no copy of it)."""

from __future__ import annotations

import pytest

from channel_adapters import registry
from channel_adapters.interfaces import ChannelAdapter
from channel_adapters.signing import ISSUER
from ecard.channels.models import CHANNEL_TYPES
from ecard.errors import EcardError
from ecard.tokens import services as token_services
from ecard.tokens.attributes import POLICY


def test_each_channel_type_maps_to_one_kind() -> None:
    assert {t: registry.adapter_for(t).kind for t in CHANNEL_TYPES} == {
        "ministry": "gov_app", "government": "gov_app", "bank": "bank",
        "partner": "payment_platform", "social": "payment_platform", "medical": "hospital"}
    with pytest.raises(KeyError):
        registry.adapter_for("airline")


@pytest.mark.parametrize("adapter", registry.ADAPTERS, ids=lambda a: a.kind)
def test_adapters_conform_to_the_interface(adapter: ChannelAdapter) -> None:
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.channel_types <= set(CHANNEL_TYPES)
    assert registry.BY_KIND[adapter.kind] is adapter


def test_attributes_are_the_policy_table() -> None:
    for scene, by_type in POLICY.items():
        for channel_type, allowed in by_type.items():
            assert registry.attributes(channel_type, scene) == allowed
    with pytest.raises(EcardError) as err:
        registry.attributes("bank", "05")
    assert err.value.code == "SCENE_INVALID"


def test_the_signing_issuer_is_the_platforms() -> None:
    assert token_services.ISSUER == ISSUER
