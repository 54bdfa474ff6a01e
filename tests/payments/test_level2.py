"""Level 2 through the API: SMS code rules, level change, device enrolment."""

from __future__ import annotations

import base64

from sqlalchemy import select

from ecard.cards.level2 import DEVICE_SECRET_CONTEXT
from ecard.cards.models import ECard
from ecard.clock import FrozenClock
from ecard.notifications.models import Notification
from ecard.payments.models import PaymentDevice, SmsChallenge
from ecard.payments.sms import CapturingSmsGateway
from ecard.platform import Platform
from tests.support.channel_client import SignedClient
from tests.support.payments import HOLDER_CH, Card, enable, issue_level1, last_code


def _sms(client: SignedClient, card: Card) -> object:
    return client.post(f"/api/v1/cards/{card.sign_no}/payment/sms")


def _enable(client: SignedClient, card: Card, code: str, device: str = "phone-1") -> object:
    return client.post(f"/api/v1/cards/{card.sign_no}/payment/enable",
                       json={"sms_code": code, "device_id": device})


def test_enable_raises_level_and_enrols_device(as_holder: SignedClient, card: Card,
                                               sms: CapturingSmsGateway,
                                               platform: Platform) -> None:
    body = enable(as_holder, sms, card)
    assert sms.messages()[0].phone == "13800138000"
    assert body["level"] == 2 and body["payment_enabled"] is True
    secret = base64.b64decode(body["device_secret"])
    assert len(secret) == 32 and 0 <= body["device_slot"] < 10**9
    assert body["account_balance_fen"] == 100000
    assert body["code_format"]["digits"] == 18
    with platform.db.session() as session:
        dev = session.scalars(select(PaymentDevice)).one()
        assert secret not in dev.secret_enc
        assert platform.protector.decrypt(dev.secret_enc, DEVICE_SECRET_CONTEXT) == secret
        assert session.scalars(select(ECard.level)).one() == 2
        events = set(session.scalars(select(Notification.event)))
        assert {"payment_enabled", "verified_by_sms"} <= events
        assert session.scalars(select(SmsChallenge.code_hash)).one() != last_code(sms)
    got = as_holder.get(f"/api/v1/cards/{card.sign_no}")
    assert got.get_json()["level"] == 2


def test_reenrol_retires_old_secret(as_holder: SignedClient, card: Card,
                                    sms: CapturingSmsGateway, platform: Platform,
                                    clock: FrozenClock) -> None:
    first = enable(as_holder, sms, card)
    clock.advance(seconds=61)
    second = enable(as_holder, sms, card)
    assert second["payment_enabled"] is False and second["level"] == 2
    assert second["retired_slots"] == [first["device_slot"]]
    assert second["device_slot"] != first["device_slot"]
    assert second["account_balance_fen"] == 100000  # funded once per person
    with platform.db.session() as session:
        rows = {d.slot: d.status for d in session.scalars(select(PaymentDevice))}
    assert rows == {first["device_slot"]: "retired", second["device_slot"]: "active"}


def test_sms_code_rules(as_holder: SignedClient, card: Card, sms: CapturingSmsGateway,
                        clock: FrozenClock) -> None:
    res = _enable(as_holder, card, "123456")
    assert res.get_json()["code"] == "SMS_CODE_NOT_SENT"  # type: ignore[attr-defined]
    assert _sms(as_holder, card).status_code == 200  # type: ignore[attr-defined]
    res = _sms(as_holder, card)
    assert res.status_code == 429  # type: ignore[attr-defined]
    assert res.get_json()["code"] == "SMS_RESEND_TOO_SOON"  # type: ignore[attr-defined]
    right = last_code(sms)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for remaining in (4, 3, 2, 1):
        res = _enable(as_holder, card, wrong)
        body = res.get_json()  # type: ignore[attr-defined]
        assert body["code"] == "SMS_CODE_WRONG", body
        assert body["details"]["remaining_attempts"] == remaining
    res = _enable(as_holder, card, wrong)
    assert res.get_json()["code"] == "SMS_CODE_ATTEMPTS_EXCEEDED"  # type: ignore[attr-defined]
    res = _enable(as_holder, card, right)  # even the right code: ask for a new one
    assert res.get_json()["code"] == "SMS_CODE_ATTEMPTS_EXCEEDED"  # type: ignore[attr-defined]
    clock.advance(seconds=60)
    assert _sms(as_holder, card).status_code == 200  # type: ignore[attr-defined]
    clock.advance(seconds=301)
    res = _enable(as_holder, card, last_code(sms))
    assert res.status_code == 410  # type: ignore[attr-defined]
    assert res.get_json()["code"] == "SMS_CODE_EXPIRED"  # type: ignore[attr-defined]
    assert _sms(as_holder, card).status_code == 200  # type: ignore[attr-defined]
    assert _enable(as_holder, card, last_code(sms)).status_code == 201  # type: ignore[attr-defined]
    # used once
    res = _enable(as_holder, card, last_code(sms))
    assert res.get_json()["code"] == "SMS_CODE_NOT_SENT"  # type: ignore[attr-defined]


def test_no_bank_account_and_unknown_card(as_holder: SignedClient, platform: Platform,
                                          sms: CapturingSmsGateway) -> None:
    bare = issue_level1(platform, HOLDER_CH, seq=7, bank=False)
    res = _sms(as_holder, bare)
    assert res.get_json()["code"] == "NO_BANK_ACCOUNT"  # type: ignore[attr-defined]
    res = as_holder.post("/api/v1/cards/110101NOPE/payment/sms")
    assert res.get_json()["code"] == "ECARD_NOT_FOUND"
    assert sms.messages() == []


def test_level1_card_cannot_list_payments(as_holder: SignedClient, card: Card) -> None:
    res = as_holder.get(f"/api/v1/cards/{card.sign_no}/payments/pending")
    assert res.status_code == 409 and res.get_json()["code"] == "ECARD_LEVEL_INSUFFICIENT"
