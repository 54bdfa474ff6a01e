"""Payment platforms: their user ids beside our openids, and the trade notices of
payments made with their users' e-cards, delivered signed by the worker to the
reference payment platform (a real process) and verified there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from channel_adapters.payment_platform import openid_for, user_id_for, yuan
from channel_adapters.registry import shape_notification
from ecard.channels.models import Channel
from ecard.clock import FrozenClock
from ecard.notifications.models import Notification
from ecard.notifications.retry import RetrySchedule
from ecard.notifications.transport import RequestsTransport
from ecard.notifications.worker import CallbackWorker
from ecard.payments.sms import CapturingSmsGateway
from ecard.payments.views import SMS_EXTRA
from ecard.platform import Platform
from tests.cards.helpers import make_channel
from tests.channel_adapters.conftest import Server
from tests.support.channel_client import SignedClient
from tests.support.payments import Card, device_of, enable, issue_level1

PLATFORM = "2000000002"
MERCHANT = "3000000003"
BANK = "1000000001"
USER = "2088102146225135"


@pytest.fixture
def as_platform(app: Flask, platform: Platform, clock: FrozenClock) -> SignedClient:
    identity = make_channel(platform, PLATFORM, name="示例支付平台", type="partner")
    return SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())


@pytest.fixture
def merchant(app: Flask, platform: Platform, clock: FrozenClock) -> SignedClient:
    identity = make_channel(platform, MERCHANT, name="示例医院", type="medical")
    return SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())


def put_user(client: SignedClient, sign_no: str, user_id: str) -> Any:
    return client.request("PUT", f"/api/v1/channel-users/{sign_no}", json_body={
        "user_id": user_id})


def test_user_ids_pair_one_to_one(as_platform: SignedClient, platform: Platform,
                                  app: Flask, clock: FrozenClock) -> None:
    card = issue_level1(platform, PLATFORM, seq=1)
    other = issue_level1(platform, PLATFORM, seq=2)
    res = put_user(as_platform, card.sign_no, USER)
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["user_id"] == USER and body["sign_no"] == card.sign_no
    assert put_user(as_platform, card.sign_no, USER).status_code == 200  # the same pair
    for sign_no, user in ((card.sign_no, "2088000000000001"), (other.sign_no, USER)):
        res = put_user(as_platform, sign_no, user)
        assert res.status_code == 409 and res.get_json()["code"] == "CHANNEL_USER_ID_TAKEN"
    res = put_user(as_platform, card.sign_no, "bad id!")
    assert res.status_code == 422 and res.get_json()["code"] == "CHANNEL_USER_ID_INVALID"
    res = put_user(as_platform, "nope", USER)
    assert res.status_code == 404 and res.get_json()["code"] == "ECARD_NOT_FOUND"
    with platform.db.session() as session:
        assert user_id_for(session, PLATFORM, body["openid"]) == USER
        assert openid_for(session, PLATFORM, USER) == body["openid"]

    bank = make_channel(platform, BANK, type="bank")
    bank_card = issue_level1(platform, BANK, seq=3)
    res = put_user(SignedClient(app.test_client(), bank, now=lambda: clock.now().timestamp()),
                   bank_card.sign_no, USER)
    assert res.status_code == 403 and res.get_json()["code"] == "CHANNEL_NOT_PAYMENT_PLATFORM"
    res = app.test_client().put(f"/api/v1/channel-users/{card.sign_no}", json={"user_id": USER})
    assert res.status_code == 401


def test_yuan_is_written_from_integer_fen() -> None:
    assert [yuan(n) for n in (0, 1, 99, 100, 1234, 100000001, -5)] == [
        "0.00", "0.01", "0.99", "1.00", "12.34", "1000000.01", "-0.05"]


def _level2(platform: Platform, client: SignedClient) -> tuple[Card, Any]:
    sms = CapturingSmsGateway()
    platform.extras[SMS_EXTRA] = sms
    card = issue_level1(platform, PLATFORM, seq=1)
    return card, device_of(enable(client, sms, card))


def test_trade_notices_reach_the_platform_signed_and_in_order(
        as_platform: SignedClient, merchant: SignedClient, platform: Platform,
        clock: FrozenClock, servers: Callable[..., Server], jwks_file: Path) -> None:
    card, device = _level2(platform, as_platform)
    assert put_user(as_platform, card.sign_no, USER).status_code == 201
    res = merchant.post("/api/v1/payments", json={
        "code": device.code(clock), "amount_fen": 1234, "currency": "CNY",
        "order_id": "HIS-0001", "scene": "04"})
    assert res.status_code == 201, res.get_json()
    payment_id = res.get_json()["payment_id"]
    res = merchant.post(f"/api/v1/payments/{payment_id}/refunds",
                        json={"amount_fen": 234, "refund_id": "R1"})
    assert res.status_code == 201, res.get_json()

    server = servers("payment_platform_server.py", "--channel-no", PLATFORM,
                     "--jwks", str(jwks_file), "--fail-first", "1")
    with platform.db.transaction() as session:
        session.get_one(Channel, PLATFORM).callback_url = server.url + "/notify"
    worker = CallbackWorker(platform.db, platform.keyring, platform.clock,
                            RequestsTransport(2.0, 5.0), schedule=RetrySchedule(5),
                            concurrency=1)
    first = worker.drain()  # the platform answers 503 once: the head waits, in order
    assert first.failed == 1 and first.delivered == 0
    clock.advance(seconds=15)
    worker.drain()
    worker.close()

    received = server.received()
    events = [n["event"] for n in received["notices"]]
    assert events == ["verified_by_sms", "payment_enabled", "payment_captured",
                      "payment_refunded"]
    captured, refunded = received["notices"][2]["data"], received["notices"][3]["data"]
    assert captured == {
        "notice": "trade", "trade_status": "SUCCESS", "user_id": USER,
        "openid": captured["openid"], "sign_no": card.sign_no, "payment_id": payment_id,
        "merchant_no": MERCHANT, "order_id": "HIS-0001", "scene": "04", "currency": "CNY",
        "total_fen": 1234, "total_yuan": "12.34", "refunded_fen": 0, "refund_id": None,
        "refund_fen": None, "occurred_at": captured["occurred_at"]}
    assert (refunded["trade_status"], refunded["refund_id"], refunded["refund_fen"],
            refunded["refunded_fen"]) == ("REFUND", "R1", 234, 234)
    assert received["notices"][0]["data"]["user_id"] is None  # before the pairing
    with platform.db.session() as session:
        assert set(session.scalars(select(Notification.status))) == {"delivered"}


def test_other_kinds_get_their_own_shape(platform: Platform) -> None:
    for no, kind in (("4000000004", "medical"), ("5000000005", "government"),
                     ("6000000006", "bank")):
        make_channel(platform, no, type=kind)
    payload = {"sign_no": "S", "openid": "O", "scene": "04", "amount_fen": 5}
    with platform.db.session() as session:
        assert shape_notification(session, "4000000004", "payment_captured", payload) == {
            **payload, "scene_name": "cross_region_medical"}
        assert shape_notification(session, "5000000005", "issued", payload) == payload
        assert shape_notification(session, "6000000006", "issued", payload) == payload
        assert shape_notification(session, "9999999999", "issued", payload) == payload
