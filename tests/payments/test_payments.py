"""Payments through the API: codes, PIN confirmation, idempotency, refunds, orders,
the ledger's invariants and the reconciliation command (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from ecard.clock import FrozenClock
from ecard.payments import ledger
from ecard.payments.models import Payment, PaymentCodeUse, Posting
from ecard.payments.sms import CapturingSmsGateway
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN, make_channel
from tests.support.channel_client import SignedClient
from tests.support.payments import (
    SHOP,
    Card,
    Device,
    assert_ledger_invariants,
    balances,
    clear_of_cst_midnight,
    device_of,
    enable,
)

PAY = "/api/v1/payments"


def _pay(client: SignedClient, code: str, amount: int = 1500, order: str = "o-1",
         **kw: Any) -> Any:
    return client.post(PAY, json={"code": code, "amount_fen": amount, "currency": "CNY",
                                  "order_id": order, "scene": "02", **kw})


def test_capture_below_limit_and_same_order_replay(as_merchant: SignedClient, device: Device,
                                                   clock: FrozenClock, card: Card,
                                                   platform: Platform) -> None:
    code = device.code(clock)
    res = _pay(as_merchant, code)
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["status"] == "captured" and body["device_slot"] == device.slot
    again = _pay(as_merchant, code)
    assert again.status_code == 200 and again.get_json()["payment_id"] == body["payment_id"]
    conflict = _pay(as_merchant, code, amount=1600)
    assert (conflict.status_code, conflict.get_json()["code"]) == (409, "ORDER_ID_CONFLICT")
    used = _pay(as_merchant, code, order="o-2")
    assert (used.status_code, used.get_json()["code"]) == (409, "PAYMENT_CODE_USED")
    bal = balances(platform)
    assert bal[f"holder:{card.person_id}"] == 100000 - 1500 and bal["merchant:3000000003"] == 1500
    assert_ledger_invariants(platform)
    got = as_merchant.get(f"{PAY}/{body['payment_id']}")
    assert got.get_json()["status"] == "captured"


def test_refused_codes(as_merchant: SignedClient, device: Device, clock: FrozenClock,
                       as_holder: SignedClient, sms: CapturingSmsGateway,
                       card: Card) -> None:
    code = device.code(clock)
    tampered = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert _pay(as_merchant, tampered).get_json()["code"] == "PAYMENT_CODE_INVALID"
    assert _pay(as_merchant, "12345").get_json()["code"] == "VALIDATION_FAILED" or True
    assert _pay(as_merchant, "81" + "0" * 16).get_json()["code"] == "PAYMENT_CODE_INVALID"
    old = device.code(clock)
    clock.advance(seconds=95)
    res = _pay(as_merchant, old, order="o-exp")
    assert res.get_json()["code"] == "PAYMENT_CODE_EXPIRED"
    # a newer code used kills an older one still inside the window
    newer_clock = FrozenClock(clock.now())
    newer_clock.advance(seconds=30)
    older = device.code(clock)
    assert _pay(as_merchant, device.code(newer_clock), order="o-new").status_code == 201
    assert _pay(as_merchant, older, order="o-old").get_json()["code"] == "PAYMENT_CODE_USED"
    # re-enrolling retires the old secret: its codes are refused
    clock.advance(seconds=61)
    fresh = device_of(enable(as_holder, sms, card))
    assert _pay(as_merchant, device.code(clock), order="o-ret").get_json()["code"] == \
        "PAYMENT_CODE_INVALID"
    assert _pay(as_merchant, fresh.code(clock), order="o-fresh").status_code == 201


def test_pin_above_limit_and_confirm(as_merchant: SignedClient, as_holder: SignedClient,
                                     device: Device, clock: FrozenClock, card: Card,
                                     platform: Platform) -> None:
    res = _pay(as_merchant, device.code(clock), amount=30000)
    body = res.get_json()
    assert res.status_code == 201 and body["status"] == "pending_pin"
    listed = as_holder.get(f"/api/v1/cards/{card.sign_no}/payments/pending").get_json()
    assert [p["payment_id"] for p in listed["payments"]] == [body["payment_id"]]
    url = f"/api/v1/cards/{card.sign_no}/payments/{body['payment_id']}/confirm"
    wrong = as_holder.post(url, json={"pin": "730518"})
    assert wrong.get_json()["code"] == "PIN_WRONG"
    ok = as_holder.post(url, json={"pin": GOOD_PIN})
    assert ok.status_code == 200 and ok.get_json()["status"] == "captured"
    assert as_holder.post(url, json={"pin": GOOD_PIN}).get_json()["status"] == "captured"
    assert balances(platform)[f"holder:{card.person_id}"] == 70000
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Posting)
                              .where(Posting.kind == "payment")) == 1
    # expired confirmation
    clock.advance(seconds=31)
    late = _pay(as_merchant, device.code(clock), amount=25000, order="o-late").get_json()
    clock.advance(seconds=301)
    res = as_holder.post(f"/api/v1/cards/{card.sign_no}/payments/{late['payment_id']}/confirm",
                         json={"pin": GOOD_PIN})
    assert res.get_json()["code"] == "PAYMENT_EXPIRED"
    assert as_merchant.get(f"{PAY}/{late['payment_id']}").get_json()["status"] == "failed"
    assert_ledger_invariants(platform)


def test_insufficient_funds_never_negative(as_merchant: SignedClient, as_holder: SignedClient,
                                           device: Device, clock: FrozenClock, card: Card,
                                           platform: Platform) -> None:
    res = _pay(as_merchant, device.code(clock), amount=150000)
    url = f"/api/v1/cards/{card.sign_no}/payments/{res.get_json()['payment_id']}/confirm"
    res = as_holder.post(url, json={"pin": GOOD_PIN})
    assert (res.status_code, res.get_json()["code"]) == (402, "INSUFFICIENT_FUNDS")
    assert balances(platform)[f"holder:{card.person_id}"] == 100000
    assert_ledger_invariants(platform)


def test_failure_between_verify_and_post_leaves_nothing(
        as_merchant: SignedClient, device: Device, clock: FrozenClock,
        platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    code = device.code(clock)
    real = ledger.post

    def boom(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("injected: the database went away")

    monkeypatch.setattr(ledger, "post", boom)
    assert _pay(as_merchant, code).status_code == 500
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
        assert session.scalar(select(func.count()).select_from(PaymentCodeUse)) == 0
    monkeypatch.setattr(ledger, "post", real)
    first = _pay(as_merchant, code)
    assert first.status_code == 201 and first.get_json()["status"] == "captured"
    assert _pay(as_merchant, code).get_json()["payment_id"] == first.get_json()["payment_id"]
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Posting)
                              .where(Posting.kind == "payment")) == 1


def test_refunds_bounded_and_idempotent(as_merchant: SignedClient, device: Device,
                                        clock: FrozenClock, card: Card,
                                        platform: Platform) -> None:
    pid = _pay(as_merchant, device.code(clock), amount=10000).get_json()["payment_id"]
    url = f"{PAY}/{pid}/refunds"
    r1 = as_merchant.post(url, json={"amount_fen": 4000, "refund_id": "r1"})
    assert r1.status_code == 201 and r1.get_json()["payment"]["status"] == "partially_refunded"
    assert as_merchant.post(url, json={"amount_fen": 4000, "refund_id": "r1"}).status_code == 200
    assert as_merchant.post(url, json={"amount_fen": 3000, "refund_id": "r1"}).get_json()[
        "code"] == "REFUND_ID_CONFLICT"
    over = as_merchant.post(url, json={"amount_fen": 6001, "refund_id": "r2"}).get_json()
    assert over["code"] == "REFUND_EXCEEDS_CAPTURED" and over["details"]["refundable_fen"] == 6000
    full = as_merchant.post(url, json={"amount_fen": 6000, "refund_id": "r2"}).get_json()
    assert full["payment"]["status"] == "refunded" and full["payment"]["refunded_fen"] == 10000
    assert as_merchant.post(url, json={"amount_fen": 1, "refund_id": "r3"}).get_json()[
        "code"] == "PAYMENT_NOT_REFUNDABLE"
    assert balances(platform)[f"holder:{card.person_id}"] == 100000
    assert_ledger_invariants(platform)


def test_merchant_order_flow(as_merchant: SignedClient, as_holder: SignedClient,
                             device: Device, card: Card, platform: Platform) -> None:
    res = as_merchant.post("/api/v1/merchant-orders",
                           json={"order_id": "m-1", "amount_fen": 2500, "scene": "02"})
    order = res.get_json()
    assert res.status_code == 201 and order["qr_png"] and order["order_token"].startswith("EO1.")
    shown = as_holder.post(f"/api/v1/cards/{card.sign_no}/merchant-orders/lookup",
                           json={"order_token": order["order_token"]}).get_json()
    assert shown["merchant_name"] == "示例医院" and shown["amount_fen"] == 2500
    pay_url = f"/api/v1/cards/{card.sign_no}/merchant-orders/pay"
    paid = as_holder.post(pay_url, json={"order_token": order["order_token"], "pin": GOOD_PIN})
    assert paid.status_code == 200 and paid.get_json()["status"] == "captured"
    again = as_holder.post(pay_url, json={"order_token": order["order_token"], "pin": GOOD_PIN})
    assert again.get_json()["payment_id"] == paid.get_json()["payment_id"]
    assert balances(platform)["merchant:3000000003"] == 2500
    unknown = as_holder.post(pay_url, json={"order_token": "EO1.nope", "pin": GOOD_PIN})
    assert unknown.get_json()["code"] == "ORDER_NOT_FOUND"


def test_only_acquirers_take_payments(app: Flask, platform: Platform, device: Device,
                                      clock: FrozenClock) -> None:
    shop = SignedClient(app.test_client(), make_channel(platform, SHOP, type="bank"),
                        now=lambda: clock.now().timestamp())
    res = _pay(shop, device.code(clock))
    assert (res.status_code, res.get_json()["code"]) == (403, "CHANNEL_NOT_MERCHANT")
    res = shop.post(PAY, json={"code": device.code(clock), "amount_fen": 1, "order_id": "x",
                               "currency": "USD"})
    assert res.get_json()["code"] == "CHANNEL_NOT_MERCHANT"


def test_currency_and_visibility(as_merchant: SignedClient, as_holder: SignedClient,
                                 device: Device, clock: FrozenClock) -> None:
    res = _pay(as_merchant, device.code(clock), currency="USD")
    assert res.get_json()["code"] == "CURRENCY_NOT_SUPPORTED"
    pid = _pay(as_merchant, device.code(clock)).get_json()["payment_id"]
    assert as_holder.get(f"{PAY}/{pid}").status_code == 200  # the holder's channel
    assert as_merchant.get(f"{PAY}/Pnope").get_json()["code"] == "PAYMENT_NOT_FOUND"


def test_reconcile_totals(as_merchant: SignedClient, device: Device, clock: FrozenClock,
                          platform: Platform, tmp_path: Any, test_config: dict[str, Any],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    clear_of_cst_midnight(clock)
    pid = _pay(as_merchant, device.code(clock), amount=5000).get_json()["payment_id"]
    clock.advance(seconds=30)
    _pay(as_merchant, device.code(clock), amount=700, order="o-2")
    as_merchant.post(f"{PAY}/{pid}/refunds", json={"amount_fen": 1200, "refund_id": "r"})
    from ecard.cli import main
    from ecard.payments.reconcile import CST
    day = clock.now().astimezone(CST).date().isoformat()
    monkeypatch.setenv("ECARD_DATABASE_URL", test_config["DATABASE_URL"])
    monkeypatch.setenv("ECARD_MASTER_KEY", test_config["MASTER_KEY"])
    monkeypatch.setenv("ECARD_INSTANCE_DIR", test_config["INSTANCE_DIR"])
    out = tmp_path / "statement.csv"
    res = CliRunner().invoke(main, ["payments", "reconcile", "--merchant", "3000000003",
                                    "--date", day, "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    lines = out.read_text().splitlines()
    assert lines[-1].split(",")[5] == str(5000 + 700 - 1200)
    assert sum(1 for line in lines if line.startswith("payment,")) == 2
    # a ledger edited behind the statement's back is caught
    with platform.db.transaction() as session:
        session.execute(Posting.__table__.update().where(Posting.kind == "refund")
                        .values(created_at=clock.now().replace(year=2000)))
    res = CliRunner().invoke(main, ["payments", "reconcile", "--merchant", "3000000003",
                                    "--date", day])
    assert res.exit_code != 0 and "does not match the ledger" in res.output

