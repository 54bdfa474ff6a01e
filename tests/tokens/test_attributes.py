"""The attribute release registry: complete, minimal where it matters, strict."""

from __future__ import annotations

import pytest

from ecard.channels.models import CHANNEL_TYPES
from ecard.errors import EcardError
from ecard.tokens.attributes import (
    ATTRIBUTES,
    BASE,
    POLICY,
    entitlement,
    policy_table,
    resolve_release,
)
from ecard.tokens.qr import SCENES


def test_every_scene_and_channel_type_has_an_entry_of_known_attributes() -> None:
    assert set(POLICY) == set(SCENES)
    for scene, by_type in POLICY.items():
        assert set(by_type) == set(CHANNEL_TYPES), scene
        for channel_type, attrs in by_type.items():
            assert attrs <= ATTRIBUTES.keys(), (scene, channel_type)
            assert attrs >= BASE, (scene, channel_type)


def test_full_id_number_only_where_the_scene_needs_it() -> None:
    with_id = {(s, t) for s, by in POLICY.items() for t, a in by.items() if "id_number" in a}
    assert with_id == {("01", "ministry"), ("01", "government"), ("04", "ministry"),
                       ("04", "government"), ("04", "medical")}


def test_nothing_links_channels_or_leaks_biometrics() -> None:
    every = set().union(*(a for by in POLICY.values() for a in by.values()))
    assert not every & {"sign_no", "photo", "face_template", "bank_account", "phone"}


def test_default_is_the_whole_entitlement_sorted() -> None:
    release = resolve_release("medical", "04")
    assert release.attributes == tuple(sorted(entitlement("medical", "04")))


def test_subset_is_released_as_asked() -> None:
    assert resolve_release("bank", "02", ["name", "openid"]).attributes == ("name", "openid")
    assert resolve_release("bank", "02", []).attributes == ()


@pytest.mark.parametrize(("channel_type", "scene", "asked", "not_allowed", "unknown"), [
    ("bank", "01", ["id_number", "openid"], ["id_number"], []),
    ("social", "04", ["name"], ["name"], []),
    ("medical", "01", ["id_number"], ["id_number"], []),
    ("government", "01", ["photo", "name"], [], ["photo"]),
])
def test_over_asking_is_refused_whole(channel_type: str, scene: str, asked: list[str],
                                      not_allowed: list[str], unknown: list[str]) -> None:
    with pytest.raises(EcardError) as exc:
        resolve_release(channel_type, scene, asked)
    assert exc.value.code == "ATTRIBUTES_NOT_ALLOWED"
    assert exc.value.details["not_allowed"] == not_allowed
    assert exc.value.details["unknown"] == unknown


def test_unknown_scene_and_unknown_channel_type() -> None:
    with pytest.raises(EcardError) as exc:
        resolve_release("bank", "05")
    assert exc.value.code == "SCENE_INVALID"
    assert entitlement("nonsense", "01") == frozenset()
    assert resolve_release("nonsense", "01").attributes == ()


def test_policy_table_is_plain_data() -> None:
    table = policy_table()
    assert table["04"]["medical"] == sorted(POLICY["04"]["medical"])
