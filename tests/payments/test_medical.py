"""Medical bills settled through ``POST /payments``: the split, the ledger legs, the
holder's notice, idempotency on the order, refunds by part, refusals that leave
nothing behind, and the statement's part columns (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from ecard.clock import FrozenClock
from ecard.notifications.models import Notification
from ecard.payments.medical import MedicalBill, cumulative_parts, parse_policies
from ecard.payments.models import MedicalSettlement, Payment, Refund
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN, make_channel
from tests.support.channel_client import SignedClient
from tests.support.payments import (
    HOLDER_CH,
    MERCHANT,
    Card,
    Device,
    assert_ledger_invariants,
    balances,
    clear_of_cst_midnight,
)

PAY = "/api/v1/payments"
REGION = "110101"
# ratio 85 %, deductible 100.00, cap 300.00, unfiled -10 %
POLICIES = "11=8500:10000:30000:1000"
FUND = f"external:medfund:{REGION}"
FUNDS = 100000  # what the demo bank grants the holder account


@pytest.fixture(autouse=True)
def policies(platform: Platform) -> None:
    platform.config["MEDICAL_POLICIES"] = POLICIES


def _bill(**kw: Any) -> dict[str, Any]:
    return {"insured_region": REGION, "self_funded_fen": 2000, "class_b_self_fen": 1000,
            "personal_account_balance_fen": 1000, **kw}


def _pay(client: SignedClient, code: str, amount: int = 30000, order: str = "m-1",
         scene: str = "02", medical: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"code": code, "amount_fen": amount, "currency": "CNY",
                            "order_id": order, "scene": scene}
    if medical is not None:
        body["medical"] = medical
    return client.post(PAY, json=body)


def _count(platform: Platform, model: type) -> int:
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bill_split_posted_and_told(as_merchant: SignedClient, as_holder: SignedClient,
                                   device: Device, clock: FrozenClock, card: Card,
                                   platform: Platform) -> None:
    res = _pay(as_merchant, device.code(clock), medical=_bill())
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    split = body["medical"]
    # eligible 27000; deductible 10000; fund 17000 * 85 % = 14450; patient 15550 =
    # personal account 1000 + cash 14550
    assert (split["eligible_fen"], split["deductible_paid_fen"], split["fund_fen"],
            split["personal_account_fen"], split["cash_fen"], split["holder_fen"]) == (
        27000, 10000, 14450, 1000, 14550, 15550)
    assert body["status"] == "captured" and body["amount_fen"] == 30000
    bal = balances(platform)
    assert bal[f"holder:{card.person_id}"] == FUNDS - 15550
    assert bal[f"merchant:{MERCHANT}"] == 30000 and bal[FUND] == -14450
    assert_ledger_invariants(platform)
    for client in (as_merchant, as_holder):
        got = client.get(f"{PAY}/{body['payment_id']}").get_json()
        assert got["medical"]["fund_fen"] == 14450
    with platform.db.session() as session:
        note = session.scalars(select(Notification).where(
            Notification.channel_no == HOLDER_CH,
            Notification.event == "payment_captured")).one()
        assert note.payload["medical"]["holder_fen"] == 15550
    # the year's deductible is used up: the next bill's fund pays from the first fen
    clock.advance(seconds=30)
    second = _pay(as_merchant, device.code(clock), amount=10000, order="m-2",
                  medical=_bill(self_funded_fen=0, class_b_self_fen=0,
                                personal_account_balance_fen=0)).get_json()["medical"]
    assert (second["deductible_paid_fen"], second["fund_fen"], second["cash_fen"]) == (
        0, 8500, 1500)
    # the cap: 30000 - 14450 - 8500 = 7050 left for the fund this year
    clock.advance(seconds=30)
    third = _pay(as_merchant, device.code(clock), amount=15000, order="m-3",
                 medical=_bill(self_funded_fen=0, class_b_self_fen=0,
                               personal_account_balance_fen=0)).get_json()["medical"]
    assert third["fund_fen"] == 7050 and third["cash_fen"] == 15000 - 7050
    assert_ledger_invariants(platform)


def test_cross_region_unfiled_lowers_the_ratio(as_merchant: SignedClient, device: Device,
                                               clock: FrozenClock) -> None:
    res = _pay(as_merchant, device.code(clock), amount=20000, scene="04",
               medical=_bill(self_funded_fen=0, class_b_self_fen=0, filed=False,
                             personal_account_balance_fen=0))
    split = res.get_json()["medical"]
    assert split["ratio_bp"] == 7500 and split["fund_fen"] == 10000 * 7500 // 10000
    assert split["scene"] == "04" and split["filed"] is False


def test_same_order_replays_and_a_changed_bill_conflicts(
        as_merchant: SignedClient, device: Device, clock: FrozenClock,
        platform: Platform) -> None:
    code = device.code(clock)
    first = _pay(as_merchant, code, medical=_bill())
    again = _pay(as_merchant, code, medical=_bill())
    assert again.status_code == 200 and again.get_json() == first.get_json()
    for changed in (_bill(self_funded_fen=2001), _bill(filed=False),
                    _bill(insured_region="110102"), None):
        res = _pay(as_merchant, code, medical=changed)
        assert (res.status_code, res.get_json()["code"]) == (409, "ORDER_ID_CONFLICT")
    assert _count(platform, MedicalSettlement) == 1


def test_refusals_write_nothing(as_merchant: SignedClient, device: Device, app: Flask,
                                clock: FrozenClock, platform: Platform) -> None:
    partner = make_channel(platform, "5000000005", name="示例出行", type="partner")
    as_partner = SignedClient(app.test_client(), partner,
                              now=lambda: clock.now().timestamp())
    code = device.code(clock)
    cases = [
        (as_partner, {}, _bill(), 403, "MEDICAL_CHANNEL_REQUIRED"),
        (as_merchant, {"scene": "01"}, _bill(), 422, "MEDICAL_SETTLEMENT_INVALID"),
        (as_merchant, {}, _bill(insured_region="440300"), 422, "MEDICAL_POLICY_UNKNOWN"),
        (as_merchant, {}, _bill(self_funded_fen=30001), 422, "MEDICAL_SETTLEMENT_INVALID"),
        (as_merchant, {}, _bill(self_funded_fen=-1), 422, "VALIDATION_FAILED"),
        (as_merchant, {}, _bill(insured_region="11010"), 422, "VALIDATION_FAILED"),
    ]
    for client, extra, bill, status, code_name in cases:
        res = _pay(client, code, medical=bill, **extra)
        assert (res.status_code, res.get_json()["code"]) == (status, code_name), bill
        assert res.get_json()["message_en"]
    assert _count(platform, Payment) == 0 and _count(platform, MedicalSettlement) == 0
    assert _pay(as_merchant, code, medical=_bill()).status_code == 201  # code still good


def test_holder_share_decides_the_pin(as_merchant: SignedClient, as_holder: SignedClient,
                                      device: Device, clock: FrozenClock, card: Card,
                                      platform: Platform) -> None:
    platform.config["PAYMENT_NO_PIN_LIMIT_FEN"] = 5000
    # the first bill stays under the deductible: the holder pays all 90.00 (> 50.00)
    small = _pay(as_merchant, device.code(clock), amount=9000, order="s",
                 medical=_bill(self_funded_fen=0, class_b_self_fen=0,
                               personal_account_balance_fen=0)).get_json()
    assert small["medical"]["holder_fen"] == 9000 and small["status"] == "pending_pin"
    res = as_holder.post(f"/api/v1/cards/{card.sign_no}/payments/{small['payment_id']}"
                         "/confirm", json={"pin": GOOD_PIN})
    assert res.status_code == 200 and res.get_json()["status"] == "captured"
    assert balances(platform)[f"holder:{card.person_id}"] == FUNDS - 9000
    clock.advance(seconds=30)
    # 10.00 of the deductible left, then 190.00 * 85 % = 161.50 from the fund: the
    # holder's 38.50 of a 200.00 bill needs no PIN
    big = _pay(as_merchant, device.code(clock), amount=20000, order="b",
               medical=_bill(self_funded_fen=0, class_b_self_fen=0,
                             personal_account_balance_fen=0)).get_json()
    assert big["status"] == "captured" and big["medical"]["holder_fen"] == 3850
    assert_ledger_invariants(platform)


def test_refunds_reverse_each_part(as_merchant: SignedClient, device: Device,
                                   clock: FrozenClock, card: Card,
                                   platform: Platform) -> None:
    body = _pay(as_merchant, device.code(clock), medical=_bill()).get_json()
    pid = body["payment_id"]
    seen = []
    for n, amount in enumerate((1, 9999, 3, 20000 - 3)):
        res = as_merchant.post(f"{PAY}/{pid}/refunds",
                               json={"amount_fen": amount, "refund_id": f"r{n}"})
        assert res.status_code == 201, res.get_json()
        parts = res.get_json()["medical"]
        assert sum(parts.values()) == amount and min(parts.values()) >= 0
        seen.append(parts)
        assert_ledger_invariants(platform)
    final = as_merchant.get(f"{PAY}/{pid}").get_json()
    assert final["status"] == "refunded"
    split = final["medical"]
    for part in ("fund", "personal_account", "cash"):
        assert split[f"{part}_refunded_fen"] == split[f"{part}_fen"]
        assert sum(p[f"{part}_fen"] for p in seen) == split[f"{part}_fen"]
    bal = balances(platform)
    assert bal[f"holder:{card.person_id}"] == FUNDS and bal[FUND] == 0
    assert bal[f"merchant:{MERCHANT}"] == 0
    over = as_merchant.post(f"{PAY}/{pid}/refunds", json={"amount_fen": 1, "refund_id": "x"})
    assert over.get_json()["code"] in ("REFUND_EXCEEDS_CAPTURED", "PAYMENT_NOT_REFUNDABLE")
    with platform.db.session() as session:
        rows = session.scalars(select(Refund).order_by(Refund.id)).all()
        assert [r.fund_fen for r in rows] == [p["fund_fen"] for p in seen]
        notes = session.scalars(select(Notification).where(
            Notification.event == "payment_refunded").order_by(Notification.id)).all()
        assert [n.payload["medical_refund"] for n in notes] == seen
    # a fully refunded bill gives its deductible back
    clock.advance(seconds=30)
    again = _pay(as_merchant, device.code(clock), order="m-2", medical=_bill()).get_json()
    assert again["medical"]["deductible_paid_fen"] == 10000


def test_reconcile_shows_the_parts(as_merchant: SignedClient, device: Device,
                                   clock: FrozenClock, tmp_path: Any,
                                   test_config: dict[str, Any],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clear_of_cst_midnight(clock)
    pid = _pay(as_merchant, device.code(clock), medical=_bill()).get_json()["payment_id"]
    clock.advance(seconds=30)
    _pay(as_merchant, device.code(clock), amount=700, order="plain")
    as_merchant.post(f"{PAY}/{pid}/refunds", json={"amount_fen": 3000, "refund_id": "r"})
    from ecard.cli import main
    from ecard.payments.reconcile import CST, HEADER
    day = clock.now().astimezone(CST).date().isoformat()
    for name in ("DATABASE_URL", "MASTER_KEY", "INSTANCE_DIR"):
        monkeypatch.setenv(f"ECARD_{name}", test_config[name])
    out = tmp_path / "statement.csv"
    res = CliRunner().invoke(main, ["payments", "reconcile", "--merchant", MERCHANT,
                                    "--date", day, "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "medical net: fund" in res.output
    lines = [line.split(",") for line in out.read_text().splitlines()]
    assert lines[0] == HEADER and HEADER[-3:] == ["fund_fen", "personal_account_fen",
                                                  "cash_fen"]
    rows = {(r[0], r[3]): r for r in lines[1:] if r[0] in ("payment", "refund")}
    assert rows[("payment", "m-1")][8:] == ["14450", "1000", "14550"]
    assert rows[("payment", "plain")][8:] == ["", "", ""]
    refund = [int(v) for v in rows[("refund", "m-1")][8:]]
    assert sum(refund) == -3000 and all(v <= 0 for v in refund)
    net = lines[-1]
    assert net[0] == "net" and int(net[8]) == 14450 + refund[0]


def test_refund_rule_never_exceeds_a_part() -> None:
    rnd = random.Random(6)
    for _ in range(2000):
        total = rnd.randint(1, 50000)
        fund = rnd.randint(0, total)
        personal = rnd.randint(0, total - fund)
        row = MedicalSettlement(total_fen=total, fund_fen=fund, personal_account_fen=personal,
                                cash_fen=total - fund - personal)
        done = 0
        before = cumulative_parts(row, 0)
        while done < total:
            done = min(total, done + rnd.randint(1, max(1, total // 3)))
            now = cumulative_parts(row, done)
            assert now.fund_fen + now.personal_account_fen + now.cash_fen == done
            assert before.fund_fen <= now.fund_fen <= fund
            assert before.personal_account_fen <= now.personal_account_fen <= personal
            assert before.cash_fen <= now.cash_fen <= total - fund - personal
            before = now
        assert (before.fund_fen, before.personal_account_fen) == (fund, personal)


def test_policy_setting() -> None:
    parsed = parse_policies("44=8500:50000:30000000:1000, 110101=9000:130000:50000000")
    assert parsed["110101"].unfiled_reduction_bp == 1000 and parsed["44"].ratio_bp == 8500
    for bad in ("44=8500:1", "4x=1:2:3", "44=10001:1:1", "1234567=1:1:1"):
        with pytest.raises(ValueError):
            parse_policies(bad)
    assert MedicalBill("110101").filed is True


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_bills_share_the_cap_once(app: Flask, platform: Platform, card: Card,
                                             as_holder: SignedClient, sms: Any,
                                             merchant_ch: Any, clock: FrozenClock) -> None:
    """Four bills of one person at once, each worth 85.00 to the fund, under a cap of
    100.00: the holder's account row lock splits them one after the other, so the
    fund pays 85.00 + 15.00 + 0 + 0, never more than the cap."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.payments import device_of, enable
    platform.config["MEDICAL_POLICIES"] = "11=8500:0:10000"
    devices = []
    for n in range(4):
        devices.append(device_of(enable(as_holder, sms, card, device_id=f"phone-{n}")))
        clock.advance(seconds=61)  # one SMS a minute
    codes = [d.code(clock) for d in devices]

    def pay(n: int) -> Any:
        client = SignedClient(app.test_client(), merchant_ch,
                              now=lambda: clock.now().timestamp())
        return _pay(client, codes[n], amount=10000, order=f"c-{n}",
                    medical=_bill(self_funded_fen=0, class_b_self_fen=0,
                                  personal_account_balance_fen=0)).get_json()

    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(pay, range(4)))
    assert all(b.get("status") == "captured" for b in bodies), bodies
    assert sorted(b["medical"]["fund_fen"] for b in bodies) == [0, 0, 1500, 8500]
    assert balances(platform)[FUND] == -10000
    assert_ledger_invariants(platform)


def test_a_payment_platform_trade_notice_carries_the_split(platform: Platform) -> None:
    from channel_adapters.payment_platform import PaymentPlatformAdapter
    payload = {"sign_no": "S1", "openid": "o1", "payment_id": "P1", "merchant_no": MERCHANT,
               "order_id": "m-1", "scene": "04", "currency": "CNY", "amount_fen": 30000,
               "refunded_fen": 0, "medical": {"fund_fen": 14450, "holder_fen": 15550}}
    with platform.db.session() as session:
        notice = PaymentPlatformAdapter().shape_notification(
            session, "3000000009", "payment_captured", payload)
        plain = PaymentPlatformAdapter().shape_notification(
            session, "3000000009", "payment_captured",
            {k: v for k, v in payload.items() if k != "medical"})
    assert notice["notice"] == "trade" and notice["medical"] == payload["medical"]
    assert "medical" not in plain and "medical_refund" not in plain
