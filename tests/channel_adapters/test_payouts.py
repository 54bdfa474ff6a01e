"""``ecard payouts export``: the day's instructions from the entitlement states, once
per (bank, day), and the file checked by the bank-side reader."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from channel_adapters.interfaces import PayoutError
from channel_adapters.models import PayoutInstruction, PayoutPosition
from channel_adapters.payoutfile import read_payout_file
from channel_adapters.payouts import CST, PayoutExporter
from ecard.audit.services import Actor
from ecard.certification.entitlement import record_pass
from ecard.certification.models import BenefitRecipient
from ecard.cli import main
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.channel_adapters.conftest import add_recipient
from tests.conftest import TEST_MASTER_KEY


def today(clock: FrozenClock) -> date:
    return clock.now().astimezone(CST).date()


def exporter(platform: Platform) -> PayoutExporter:
    return PayoutExporter(platform.db, platform.protector, platform.keyring, platform.clock,
                          Actor("operator", "alice"))


def certify(platform: Platform, recipient_id: int, day: date) -> None:
    with platform.db.transaction() as session:
        r = session.get_one(BenefitRecipient, recipient_id)
        record_pass(session, platform.clock, r, day, Actor.system(), source="test")


def test_a_day_of_suspensions_stops_and_reinstatements(platform: Platform,
                                                      clock: FrozenClock) -> None:
    d = today(clock)
    lapsed = add_recipient(platform, 1, certified_until=d - timedelta(days=40),
                           status="suspended", name="王五")
    add_recipient(platform, 2, certified_until=d + timedelta(days=100), name="赵六")
    dead = add_recipient(platform, 3, certified_until=d + timedelta(days=100), name="孙七")
    add_recipient(platform, 4, certified_until=d - timedelta(days=40), bank="ABC")
    with platform.db.transaction() as session:
        r = session.get_one(BenefitRecipient, dead)
        r.status, r.died_on = "stopped", d - timedelta(days=2)

    first = exporter(platform).export("ICBC", d)
    assert first.created and first.batch_no == 1
    payout = read_payout_file(first.data, first.signature, jwks=platform.keyring.jwks(),
                              bank_code="ICBC", name=first.file_name)
    assert [(r.kind, r.recipient_ref, r.effective_on, r.name) for r in payout.records] == [
        ("SUSPEND", str(lapsed), d - timedelta(days=39), "王五"),
        ("STOP", str(dead), d - timedelta(days=2), "孙七")]
    assert payout.records[0].account == "6222020200998877665"

    again = exporter(platform).export("ICBC", d)  # same day: same file, same batch
    assert not again.created
    assert (again.data, again.signature, again.batch_no) == (first.data, first.signature, 1)

    # the next day: the suspended recipient certified, and is owed the months withheld
    clock.advance(days=1)
    certify(platform, lapsed, d + timedelta(days=1))
    with platform.db.transaction() as session:
        months = session.get_one(BenefitRecipient, lapsed).backpay_months
    assert months == 2
    second = exporter(platform).export("ICBC", d + timedelta(days=1))
    assert second.batch_no == 2
    records = read_payout_file(second.data, second.signature, jwks=platform.keyring.jwks(),
                               bank_code="ICBC").records
    assert [(r.kind, r.months, r.amount_fen) for r in records] == [
        ("REINSTATE", 0, 0), ("BACKPAY", 2, 2 * 300000)]
    assert second.control_sum_fen == 600000 and second.record_count == 2

    # lapsed and certified again between two files: the bank never stopped paying,
    # so nothing is owed and nothing is sent
    clock.advance(days=1)
    with platform.db.transaction() as session:
        session.get_one(BenefitRecipient, lapsed).certified_until = d
    certify(platform, lapsed, d + timedelta(days=40))
    third = exporter(platform).export("ICBC", d + timedelta(days=2))
    assert third.record_count == 0 and third.batch_no == 3
    with platform.db.transaction() as session:
        position = session.get_one(PayoutPosition, lapsed)
        recipient = session.get_one(BenefitRecipient, lapsed)
        assert position.status == "paying"
        assert position.backpay_months_seen == recipient.backpay_months
        kinds = session.scalars(select(PayoutInstruction.kind)
                                .order_by(PayoutInstruction.id)).all()
    assert kinds == ["SUSPEND", "STOP", "REINSTATE", "BACKPAY"]

    # the other bank's file holds its own recipient only
    other = exporter(platform).export("ABC", d + timedelta(days=2))
    assert other.batch_no == 1 and other.record_count == 1


def test_days_that_cannot_be_made(platform: Platform, clock: FrozenClock) -> None:
    d = today(clock)
    exporter(platform).export("ICBC", d)
    with pytest.raises(PayoutError) as err:
        exporter(platform).export("ICBC", d - timedelta(days=1))
    assert err.value.code == "PAYOUT_DAY_CLOSED"
    with pytest.raises(PayoutError) as err:
        exporter(platform).export("ICBC", d + timedelta(days=1))
    assert err.value.code == "PAYOUT_DAY_IN_FUTURE"
    for bad in ("icbc", "I", "ICBC/../x", ""):
        with pytest.raises(PayoutError) as err:
            exporter(platform).export(bad, d)
        assert err.value.code == "PAYOUT_BANK_INVALID"


def test_cli_export_then_verify(platform: Platform, database_url: str, tmp_path: Path) -> None:
    d = date.today()
    add_recipient(platform, 1, certified_until=d - timedelta(days=40), status="suspended")
    env = {"ECARD_DATABASE_URL": database_url, "ECARD_MASTER_KEY": TEST_MASTER_KEY,
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance"), "ECARD_OPERATOR": "alice",
           "ECARD_REDIS_URL": ""}
    runner = CliRunner()
    out = tmp_path / "out"
    day = (platform.clock.now().astimezone(CST).date()).isoformat()
    res = runner.invoke(main, ["payouts", "export", "--bank", "ICBC", "--date", day,
                               "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    assert "batch 000001, 1 records" in res.output and "written" in res.output
    (txt,) = out.glob("*.txt")
    assert (out / (txt.name + ".sig")).exists()
    assert os.stat(txt).st_mode & 0o777 == 0o600
    first = txt.read_bytes()

    res = runner.invoke(main, ["payouts", "export", "--bank", "ICBC", "--date", day,
                               "--out", str(out)], env=env)
    assert res.exit_code == 0 and "unchanged" in res.output
    assert txt.read_bytes() == first

    res = runner.invoke(main, ["payouts", "verify", str(txt), "--bank", "ICBC"], env=env)
    assert res.exit_code == 0, res.output
    assert "valid" in res.output

    txt.write_bytes(first.replace(b"SUSPEND", b"STOP\x00\x00\x00"))
    res = runner.invoke(main, ["payouts", "verify", str(txt)], env=env)
    assert res.exit_code == 1 and "line 2" in res.output

    res = runner.invoke(main, ["payouts", "export", "--bank", "ICBC", "--date", "2999-01-01",
                               "--out", str(out)], env=env)
    assert res.exit_code == 1 and "PAYOUT_DAY_IN_FUTURE" in res.output
