"""The identity-code API end to end: issue, verify once, every refusal, attribute
release per channel type, disclosures, the status list and the offline verifier
fed by it, and concurrent redemption (SQLite and PostgreSQL through ``app``)."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
import zxingcpp
from ecard_sdk.offline import Fetched, OfflineVerifier
from flask import Flask
from PIL import Image
from sqlalchemy import func, select

from ecard.audit.services import Actor
from ecard.cards.models import ECard, allocate_status_index
from ecard.clock import FrozenClock
from ecard.errors import EcardError
from ecard.platform import Platform
from ecard.registry.services import set_card_status
from ecard.tokens.models import Disclosure, IdentityCode
from ecard.tokens.views import identity_service
from tests.cards.helpers import make_channel
from tests.support.channel_client import ChannelIdentity, SignedClient
from tests.support.factories import Holder, make_holder

HOLDER_APP = "1000000001"  # the holder's bank app, where the e-card lives
GOV = "2000000002"
BANK = "3000000003"
HOSPITAL = "4000000004"
VERIFY = "/api/v1/identity-codes/verify"


def add_ecard(platform: Platform, holder: Holder, channel_no: str) -> str:
    """An active level-1 e-card, written directly (issuance has its own tests)."""
    now = platform.clock.now()
    sign_no = f"110101{channel_no}X{holder.person_id}"
    with platform.db.transaction() as s:
        s.add(ECard(sign_no=sign_no, person_id=holder.person_id, channel_no=channel_no,
                    card_id=holder.card_id,
                    openid=platform.protector.pseudonym(channel_no, str(holder.person_id)),
                    status_index=allocate_status_index(s, now), level=1, status="active",
                    face_score=None, issued_at=now, updated_at=now, unlinked_at=None))
    return sign_no


class World:
    def __init__(self, app: Flask, clock: FrozenClock) -> None:
        self.app = app
        self.clock = clock
        self.platform: Platform = app.extensions["ecard"]
        ids: dict[str, ChannelIdentity] = {
            HOLDER_APP: make_channel(self.platform, HOLDER_APP, type="bank", name="持卡人App"),
            GOV: make_channel(self.platform, GOV, type="government", name="政务服务"),
            BANK: make_channel(self.platform, BANK, type="bank", name="示例银行"),
            HOSPITAL: make_channel(self.platform, HOSPITAL, type="medical", name="市医院"),
        }
        self.clients = {no: SignedClient(app.test_client(), i,
                                         now=lambda: clock.now().timestamp())
                        for no, i in ids.items()}
        self.holder = make_holder(self.platform, name="张三丰")
        self.sign_no = add_ecard(self.platform, self.holder, HOLDER_APP)

    def as_(self, channel_no: str) -> SignedClient:
        return self.clients[channel_no]

    def issue(self, scenes: list[str] | None = None) -> dict[str, Any]:
        body = {} if scenes is None else {"scenes": scenes}
        res = self.as_(HOLDER_APP).post(f"/api/v1/cards/{self.sign_no}/identity-code",
                                        json=body)
        assert res.status_code == 201, res.get_json()
        data: dict[str, Any] = res.get_json()
        return data

    def verify(self, channel_no: str, code: str, scene: str = "01",
               attributes: list[str] | None = None, **kw: Any) -> Any:
        body: dict[str, Any] = {"code": code, "scene": scene}
        if attributes is not None:
            body["attributes"] = attributes
        return self.as_(channel_no).post(VERIFY, json=body, **kw)

    def set_card(self, status: str) -> None:
        with self.platform.db.transaction() as s:
            set_card_status(s, self.platform.clock, Actor("operator", "t"),
                            self.holder.card_no, status)


@pytest.fixture
def world(app: Flask, clock: FrozenClock) -> World:
    return World(app, clock)


def _code(res: Any) -> str:
    return str(res.get_json()["code"])


def test_issue_verify_once_then_already_redeemed(world: World) -> None:
    issued = world.issue()
    code = issued["code"]
    assert code.startswith("EC1.") and issued["scenes"] == ["01", "02", "03", "04"]
    assert issued["svg"].startswith("<?xml") and "<svg" in issued["svg"]
    lifetime = (_dt(issued["expires_at"]) - _dt(issued["issued_at"])).total_seconds()
    assert lifetime == 60

    res = world.verify(GOV, code, "01")
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["valid"] is True and body["scene"] == "01"
    attrs = body["attributes"]
    assert attrs["id_number"] == world.holder.id_number and attrs["name"] == "张三丰"
    assert attrs["own_sign_no"] is None  # the government channel holds no e-card of his
    assert attrs["openid"] == world.platform.protector.pseudonym(
        GOV, str(world.holder.person_id))
    assert sorted(attrs) == body["released"]

    again = world.verify(GOV, code, "01")
    assert (again.status_code, _code(again)) == (409, "CODE_ALREADY_REDEEMED")
    other = world.verify(BANK, code, "01")
    assert _code(other) == "CODE_ALREADY_REDEEMED"


def _dt(text: str) -> Any:
    from datetime import datetime
    return datetime.fromisoformat(text)


def test_png_decodes_to_the_exact_code(world: World) -> None:
    issued = world.issue(["01"])
    image = Image.open(io.BytesIO(base64.b64decode(issued["png_base64"])))
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert {r.text for r in results if r.valid} == {issued["code"]}


def test_expired_tampered_and_malformed(world: World, clock: FrozenClock) -> None:
    code = world.issue()["code"]
    payload, sig = code[4:].split(".")
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    for bad in ("EC1." + flipped + "." + sig, code[:-2] + ("AA" if code[-2:] != "AA" else "BA"),
                "hello", "EC1.x.y", "8123456789012345678"):
        res = world.verify(GOV, bad)
        assert (res.status_code, _code(res)) == (422, "CODE_INVALID"), bad
    clock.advance(seconds=61)
    res = world.verify(GOV, code)
    assert (res.status_code, _code(res)) == (410, "CODE_EXPIRED")
    assert "expired_at" in res.get_json()["details"]


def test_suspended_and_revoked_online(world: World) -> None:
    code = world.issue()["code"]
    world.set_card("lost")
    res = world.verify(GOV, code)
    assert (res.status_code, _code(res)) == (409, "CODE_SUSPENDED")
    res = world.as_(HOLDER_APP).post(f"/api/v1/cards/{world.sign_no}/identity-code", json={})
    assert _code(res) == "ECARD_SUSPENDED"
    world.set_card("active")  # found again: the same code works (it is still young)
    assert world.verify(GOV, code).status_code == 200
    code = world.issue()["code"]
    world.set_card("cancelled")
    res = world.verify(HOSPITAL, code, "04")
    assert (res.status_code, _code(res)) == (409, "CODE_REVOKED")
    res = world.as_(HOLDER_APP).post(f"/api/v1/cards/{world.sign_no}/identity-code", json={})
    assert _code(res) == "ECARD_REVOKED"


def test_scenes_wrong_and_unknown(world: World) -> None:
    code = world.issue(["01"])["code"]
    res = world.verify(HOSPITAL, code, "04")
    assert (res.status_code, _code(res)) == (422, "CODE_SCENE_MISMATCH")
    res = world.verify(HOSPITAL, code, "09")
    assert (res.status_code, _code(res)) == (422, "SCENE_INVALID")
    res = world.as_(HOLDER_APP).post(f"/api/v1/cards/{world.sign_no}/identity-code",
                                     json={"scenes": ["05"]})
    assert _code(res) == "SCENE_INVALID"
    assert world.verify(HOSPITAL, code, "01").status_code == 200  # still unredeemed


def test_over_asking_releases_nothing_and_keeps_the_code(world: World) -> None:
    code = world.issue()["code"]
    res = world.verify(BANK, code, "01", attributes=["name_masked", "id_number"])
    assert (res.status_code, _code(res)) == (403, "ATTRIBUTES_NOT_ALLOWED")
    details = res.get_json()["details"]
    assert details["not_allowed"] == ["id_number"] and "id_number" not in details["allowed"]
    assert world.holder.id_number not in res.get_data(as_text=True)
    res = world.verify(BANK, code, "01", attributes=["photo"])
    assert res.get_json()["details"]["unknown"] == ["photo"]
    with world.platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Disclosure)) == 0
    res = world.verify(BANK, code, "01", attributes=["name_masked", "card_no_masked"])
    assert res.status_code == 200
    assert res.get_json()["attributes"] == {"name_masked": "**丰",
                                            "card_no_masked": "A1*****78"}


@pytest.mark.parametrize(("channel_no", "scene", "full_id"), [
    (GOV, "01", True), (GOV, "04", True), (HOSPITAL, "04", True), (HOSPITAL, "01", False),
    (BANK, "01", False), (BANK, "02", False), (HOSPITAL, "02", False), (GOV, "03", False),
])
def test_release_follows_channel_type_and_scene(world: World, channel_no: str, scene: str,
                                                full_id: bool) -> None:
    from ecard.tokens.attributes import POLICY
    res = world.verify(channel_no, world.issue()["code"], scene)
    assert res.status_code == 200, res.get_json()
    attrs = res.get_json()["attributes"]
    channel_type = {GOV: "government", HOSPITAL: "medical", BANK: "bank"}[channel_no]
    assert set(attrs) == POLICY[scene][channel_type]
    assert ("id_number" in attrs) is full_id
    text = res.get_data(as_text=True)
    assert (world.holder.id_number in text) is full_id


def test_own_sign_no_for_the_holders_own_channel(world: World) -> None:
    bank_sign_no = add_ecard(world.platform, world.holder, BANK)
    res = world.verify(BANK, world.issue()["code"], "02")
    assert res.get_json()["attributes"]["own_sign_no"] == bank_sign_no


def test_disclosures_listed_for_the_holder(world: World, clock: FrozenClock) -> None:
    world.verify(GOV, world.issue()["code"], "01")
    clock.advance(seconds=5)
    world.verify(HOSPITAL, world.issue()["code"], "04", attributes=["name", "id_number"])
    res = world.as_(HOLDER_APP).get(f"/api/v1/cards/{world.sign_no}/disclosures")
    assert res.status_code == 200
    rows = res.get_json()["disclosures"]
    assert [(r["channel_no"], r["scene"], r["channel_type"]) for r in rows] == [
        (HOSPITAL, "04", "medical"), (GOV, "01", "government")]
    assert rows[0]["attributes"] == ["id_number", "name"]
    assert rows[0]["shown_in_this_channel"] is True and rows[0]["channel_name"] == "市医院"
    assert "id_number" in rows[1]["attributes"]
    page = world.as_(HOLDER_APP).get(
        f"/api/v1/cards/{world.sign_no}/disclosures?limit=1&offset=1")
    assert [r["channel_no"] for r in page.get_json()["disclosures"]] == [GOV]
    other = world.as_(GOV).get(f"/api/v1/cards/{world.sign_no}/disclosures")
    assert _code(other) == "ECARD_NOT_FOUND"  # only through the holder's own channel


def test_verify_is_idempotent_on_its_key(world: World) -> None:
    code = world.issue()["code"]
    first = world.verify(GOV, code, headers={"Idempotency-Key": "scan-1"})
    again = world.verify(GOV, code, headers={"Idempotency-Key": "scan-1"})
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()


def test_expired_nonce_rows_are_cleaned(world: World, clock: FrozenClock) -> None:
    world.issue()
    clock.advance(seconds=300)
    world.issue()
    with world.platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(IdentityCode)) == 1


def _fetchers(app: Flask) -> tuple[Callable[[], Any], Callable[[], Any]]:
    client = app.test_client()

    def jwks() -> Any:
        return client.get("/.well-known/jwks.json").get_json()

    def status_list() -> Fetched:
        res = client.get("/api/v1/status-list")
        assert res.status_code == 200 and res.mimetype == "application/statuslist+jwt"
        return Fetched(res.get_data(as_text=True), None)

    return jwks, status_list


def test_status_list_endpoint_and_offline_refusal(world: World, app: Flask,
                                                  clock: FrozenClock) -> None:
    t = lambda: clock.now().timestamp()  # noqa: E731
    verifier = OfflineVerifier(*_fetchers(app), clock=t, monotonic=t)
    res = app.test_client().get("/api/v1/status-list")
    assert res.headers["Cache-Control"] == "public, max-age=60"
    clock.advance(seconds=30)  # the list is now 30 s old
    code = world.issue()["code"]
    ok = verifier.verify(code, scene="01")
    assert ok.ok and ok.status_list_age_s == 30 and ok.jwks_age_s == 0
    world.set_card("lost")
    assert verifier.verify(code).ok  # offline, the loss is not known yet
    clock.advance(seconds=31)  # the list is 61 s old: rebuilt, fetched; the code lives
    refused = verifier.verify(code)
    assert (refused.ok, refused.reason) == (False, "revoked_or_suspended")
    assert refused.status_list_age_s == 0 and refused.status_list_seq == 2
    world.set_card("active")
    clock.advance(seconds=61)
    later = verifier.verify(world.issue()["code"])
    assert later.ok, later


def test_status_list_rebuilt_at_most_every_minute(world: World, app: Flask,
                                                  clock: FrozenClock) -> None:
    from ecard.tokens.models import StatusListSnapshot
    client = app.test_client()
    first = client.get("/api/v1/status-list").get_data()
    world.set_card("lost")
    clock.advance(seconds=59)
    assert client.get("/api/v1/status-list").get_data() == first
    assert client.get("/api/v1/status-list").headers["Cache-Control"].endswith("max-age=1")
    clock.advance(seconds=1)
    assert client.get("/api/v1/status-list").get_data() != first
    with world.platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(StatusListSnapshot)) == 2


def test_two_threads_redeem_one_code_once(world: World) -> None:
    code = world.issue()["code"]
    platform = world.platform
    svc = identity_service(platform)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem() -> None:
        barrier.wait()
        try:
            with platform.db.transaction() as s:
                svc.verify(s, channel_no=GOV, channel_type="government", code=code,
                           scene="01")
            result = "ok"
        except EcardError as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["CODE_ALREADY_REDEEMED"] * 3 + ["ok"]
    with platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Disclosure)) == 1
