"""The bank protocol against the reference bank (a real process on a free port):
signed SMS requests with idempotency keys and retries, level 2 through the bank, and
payout files handed over and validated on the bank's side."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from channel_adapters.bank import BankClient, BankSmsGateway
from channel_adapters.interfaces import BankError
from channel_adapters.payoutfile import PayoutFile, PayoutRecord, render, sign
from channel_adapters.signing import SIGNATURE_HEADER, sign_request
from ecard.clock import FrozenClock
from ecard.payments.sms import SmsGateway
from ecard.payments.views import SMS_EXTRA
from ecard.platform import Platform
from tests.channel_adapters.conftest import Server
from tests.support.channel_client import SignedClient
from tests.support.payments import HOLDER_CH, issue_level1

pytestmark = pytest.mark.e2e
Launch = Callable[..., Server]


def bank(servers: Launch, jwks_file: Path, *extra: str, code: str = "ICBC") -> Server:
    return servers("bank_server.py", "--bank-code", code, "--jwks", str(jwks_file), *extra)


def client(server: Server, platform: Platform, code: str = "ICBC", **kw: Any) -> BankClient:
    sleeps: list[float] = []
    c = BankClient(server.url, code, platform.keyring, sleep=sleeps.append, **kw)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def test_sms_request_round_trip(platform: Platform, servers: Launch, jwks_file: Path,
                                clock: FrozenClock) -> None:
    server = bank(servers, jwks_file)
    answer = client(server, platform).send_sms("13800138000", "验证码123456",
                                               requested_at=clock.now())
    assert answer["accepted"] and answer["phone_masked"] == "138****8000"
    assert server.received()["sms"] == [{"message_id": answer["message_id"],
                                         "phone": "13800138000", "message": "验证码123456"}]
    assert isinstance(BankSmsGateway(client(server, platform)), SmsGateway)


def test_retries_reuse_the_idempotency_key_so_the_bank_sends_once(
        platform: Platform, servers: Launch, jwks_file: Path, clock: FrozenClock) -> None:
    server = bank(servers, jwks_file, "--fail-first", "2")
    c = client(server, platform, max_retries=2)
    c.send_sms("13800138000", "验证码111111", requested_at=clock.now(), idempotency_key="k-1")
    assert len(c.sleeps) == 2 and all(0 < s <= 5 for s in c.sleeps)  # type: ignore[attr-defined]
    # the same message again (a retry from a restarted caller): answered, not re-sent
    again = c.send_sms("13800138000", "验证码111111", requested_at=clock.now(),
                       idempotency_key="k-1")
    received = server.received()
    assert len(received["sms"]) == 1 and again["message_id"] == received["sms"][0]["message_id"]
    with pytest.raises(BankError) as err:  # the same key with another body
        c.send_sms("13800138000", "验证码222222", requested_at=clock.now(),
                   idempotency_key="k-1")
    assert err.value.code == "BANK_REFUSED" and err.value.status == 502


def test_a_bank_that_stays_down_is_unavailable(platform: Platform, servers: Launch,
                                               jwks_file: Path, clock: FrozenClock) -> None:
    server = bank(servers, jwks_file, "--fail-first", "10")
    c = client(server, platform, max_retries=2)
    with pytest.raises(BankError) as err:
        c.send_sms("13800138000", "x", requested_at=clock.now())
    assert err.value.code == "BANK_UNAVAILABLE" and err.value.status == 503
    assert err.value.details["attempts"] == 3 and server.received()["requests"] == 3
    nobody = BankClient("http://127.0.0.1:9", "ICBC", platform.keyring, max_retries=1,
                        sleep=lambda s: None)
    with pytest.raises(BankError) as err:
        nobody.send_sms("13800138000", "x", requested_at=clock.now())
    assert err.value.code == "BANK_UNAVAILABLE"


def test_the_bank_refuses_unsigned_replayed_or_misaddressed_requests(
        platform: Platform, servers: Launch, jwks_file: Path) -> None:
    server = bank(servers, jwks_file)
    body = json.dumps({"phone": "13800138000", "message": "x", "requested_at": "t"}).encode()

    def post(token: str, data: bytes = body, key: str = "k") -> int:
        return requests.post(server.url + "/sms/send", data=data, timeout=5, headers={
            SIGNATURE_HEADER: token, "Idempotency-Key": key}).status_code

    now = int(time.time())
    good = sign_request(platform.keyring, audience="ICBC", method="POST", path="/sms/send",
                        body=body, now_s=now)
    assert post("") == 401
    assert post(sign_request(platform.keyring, audience="ABC", method="POST",
                             path="/sms/send", body=body, now_s=now)) == 401
    assert post(sign_request(platform.keyring, audience="ICBC", method="POST",
                             path="/payout-files", body=body, now_s=now)) == 401
    assert post(sign_request(platform.keyring, audience="ICBC", method="POST",
                             path="/sms/send", body=body, now_s=now - 600)) == 401
    assert post(good, body + b" ") == 401  # body changed after signing
    assert post(good) == 200
    assert post(good, key="k2") == 401  # the same token again: one-time jti
    assert len(server.received()["sms"]) == 1
    # a refusal is not retried
    with pytest.raises(BankError) as err:
        BankClient(server.url, "ABC", platform.keyring, sleep=lambda s: None).send_sms(
            "13800138000", "x", requested_at=datetime.now(UTC))
    assert err.value.code == "BANK_REFUSED" and err.value.details["status"] == 401


def test_level2_sms_goes_through_the_cards_bank(app: Flask, platform: Platform,
                                                servers: Launch, jwks_file: Path,
                                                clock: FrozenClock) -> None:
    from tests.cards.helpers import make_channel
    server = bank(servers, jwks_file)
    identity = make_channel(platform, HOLDER_CH, type="bank")
    platform.extras[SMS_EXTRA] = BankSmsGateway(client(server, platform))
    card = issue_level1(platform, HOLDER_CH)
    holder = SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())
    res = holder.post(f"/api/v1/cards/{card.sign_no}/payment/sms")
    assert res.status_code == 200, res.get_json()
    (sms,) = server.received()["sms"]
    assert sms["phone"] == "13800138000"
    code = sms["message"].split("验证码")[1][:6]
    res = holder.post(f"/api/v1/cards/{card.sign_no}/payment/enable",
                      json={"sms_code": code, "device_id": "phone-1"})
    assert res.status_code == 201, res.get_json()


def test_level2_with_the_bank_down_keeps_nothing(app: Flask, platform: Platform,
                                                 servers: Launch, jwks_file: Path,
                                                 clock: FrozenClock) -> None:
    from tests.cards.helpers import make_channel
    server = bank(servers, jwks_file, "--fail-first", "3")
    identity = make_channel(platform, HOLDER_CH, type="bank")
    platform.extras[SMS_EXTRA] = BankSmsGateway(client(server, platform, max_retries=2))
    card = issue_level1(platform, HOLDER_CH)
    holder = SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())
    res = holder.post(f"/api/v1/cards/{card.sign_no}/payment/sms")
    assert res.status_code == 503 and res.get_json()["code"] == "BANK_UNAVAILABLE"
    # nothing was kept: no throttle, a new request right away goes through
    res = holder.post(f"/api/v1/cards/{card.sign_no}/payment/sms")
    assert res.status_code == 200, res.get_json()
    assert len(server.received()["sms"]) == 1


def _payout(platform: Platform) -> tuple[PayoutFile, bytes, str]:
    from datetime import date
    payout = PayoutFile("ICBC", date(2026, 12, 3), 1, "20261203230501", (
        PayoutRecord(1, "REINSTATE", "12", "6222020200998877666", "赵六", date(2026, 12, 3),
                     0, 0),
        PayoutRecord(2, "BACKPAY", "12", "6222020200998877666", "赵六", date(2026, 12, 3),
                     2, 600000)))
    data = render(payout)
    return payout, data, sign(platform.keyring, payout, data, 1_800_000_000)


def test_payout_file_handed_to_the_bank(platform: Platform, servers: Launch,
                                        jwks_file: Path) -> None:
    server = bank(servers, jwks_file, "--fail-first", "1")
    _, data, sig = _payout(platform)
    c = client(server, platform)
    name = "ECPAYOUT_ICBC_20261203_000001.txt"
    answer = c.submit_payout_file(name, data, sig)
    assert answer["accepted"] and answer["control_sum_fen"] == 600000
    c.submit_payout_file(name, data, sig)  # sent twice: consumed once
    assert server.received()["payout_files"] == [{
        "name": name, "batch_no": 1, "records": 2, "control_sum_fen": 600000,
        "kinds": ["REINSTATE", "BACKPAY"]}]
    tampered = data.replace(b"|2|600000\n", b"|2|900000\n")
    with pytest.raises(BankError) as err:
        c.submit_payout_file("ECPAYOUT_ICBC_20261203_000001b.txt", tampered, sig)
    assert err.value.code == "BANK_REFUSED"
    assert err.value.details["bank_answer_code"] == "PAYOUT_FILE_INVALID"


def test_the_bank_gateway_is_chosen_by_configuration(test_config: dict[str, Any],
                                                     clock: FrozenClock) -> None:
    from ecard import create_app
    app = create_app({**test_config, "BANK_SMS_URL": "http://127.0.0.1:9/bank",
                      "BANK_SMS_CODE": "ICBC"}, clock=clock)
    gateway = app.extensions["ecard"].extras[SMS_EXTRA]
    assert isinstance(gateway, BankSmsGateway) and list(gateway.clients) == ["ICBC"]
    app.extensions["ecard"].db.dispose()
    with pytest.raises(RuntimeError, match="ECARD_BANK_SMS_CODE"):
        create_app({**test_config, "BANK_SMS_URL": "http://127.0.0.1:9/bank"}, clock=clock)
    # the mapping, with the single-bank pair of earlier versions as one more entry
    app = create_app({**test_config, "BANK_SMS_URLS": "CCB=http://127.0.0.1:9/ccb, "
                      "ABC=https://sms.abc.example", "BANK_SMS_URL": "http://127.0.0.1:9/bank",
                      "BANK_SMS_CODE": "ICBC"}, clock=clock)
    gateway = app.extensions["ecard"].extras[SMS_EXTRA]
    assert {code: c.base_url for code, c in gateway.clients.items()} == {
        "ABC": "https://sms.abc.example", "CCB": "http://127.0.0.1:9/ccb",
        "ICBC": "http://127.0.0.1:9/bank"}
    app.extensions["ecard"].db.dispose()
    for bad, match in (({"BANK_SMS_URLS": "ICBC"}, "BANK_CODE=https"),
                       ({"BANK_SMS_URLS": "ICBC=ftp://x"}, "BANK_CODE=https"),
                       ({"BANK_SMS_URLS": "ICBC=http://a,ICBC=http://b"}, "twice"),
                       ({"BANK_SMS_URLS": "ICBC=http://a", "BANK_SMS_URL": "http://b",
                         "BANK_SMS_CODE": "ICBC"}, "two SMS endpoints")):
        with pytest.raises(RuntimeError, match=match):
            create_app({**test_config, **bad}, clock=clock)


def test_each_card_gets_its_code_from_its_own_bank(app: Flask, platform: Platform,
                                                   servers: Launch, jwks_file: Path,
                                                   clock: FrozenClock) -> None:
    """The reference bank runs twice, as ICBC and as CCB; a card of a third bank, or
    of none, is refused with nothing kept (never sent through another bank)."""
    from ecard.payments.models import SmsChallenge
    from tests.cards.helpers import make_channel
    icbc, ccb = bank(servers, jwks_file), bank(servers, jwks_file, code="CCB")
    identity = make_channel(platform, HOLDER_CH, type="bank")
    platform.extras[SMS_EXTRA] = BankSmsGateway(client(icbc, platform),
                                                client(ccb, platform, code="CCB"))
    holder = SignedClient(app.test_client(), identity, now=lambda: clock.now().timestamp())
    cards = {code: issue_level1(platform, HOLDER_CH, seq=n, bank_code=code)
             for n, code in enumerate(("ICBC", "CCB", "ABC", None), start=1)}
    for code in ("CCB", "ICBC"):
        res = holder.post(f"/api/v1/cards/{cards[code].sign_no}/payment/sms")
        assert res.status_code == 200, res.get_json()
    assert len(icbc.received()["sms"]) == 1 and len(ccb.received()["sms"]) == 1
    for code in ("ABC", None):
        res = holder.post(f"/api/v1/cards/{cards[code].sign_no}/payment/sms")
        assert (res.status_code, res.get_json()["code"]) == (409, "BANK_NOT_CONNECTED")
        assert res.get_json()["details"]["bank_code"] == code
    with platform.db.session() as session:
        kept = {row.ecard_id for row in session.query(SmsChallenge)}
    assert kept == {cards["ICBC"].ecard_id, cards["CCB"].ecard_id}
    assert len(icbc.received()["sms"]) == 1 and len(ccb.received()["sms"]) == 1
    # the CCB holder finishes level 2 with the code CCB sent
    (sms,) = ccb.received()["sms"]
    code = sms["message"].split("验证码")[1][:6]
    res = holder.post(f"/api/v1/cards/{cards['CCB'].sign_no}/payment/enable",
                      json={"sms_code": code, "device_id": "phone-ccb"})
    assert res.status_code == 201, res.get_json()
