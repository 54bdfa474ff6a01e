"""Periods, statuses, back-pay and the status refresh with its notifications."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from ecard.audit.services import Actor
from ecard.certification.entitlement import (
    add_months,
    months_between,
    parse_region_periods,
    period_months,
    record_pass,
    refresh_statuses,
    status_on,
)
from ecard.certification.models import BenefitRecipient
from ecard.notifications.models import Notification
from ecard.platform import Platform
from tests.certification.helpers import katie_holder, setup_platform


def test_periods_are_clamped_and_regional() -> None:
    regions = parse_region_periods("44=6,310101=3")
    assert period_months("enterprise_retiree", 300000, 1500000, 2700000, "110101", {}) == 14
    assert period_months("enterprise_retiree", 300000, 300000, 0, "110101", {}) == 6
    assert period_months("enterprise_retiree", 100000, 5000000, 0, "110101", {}) == 24
    assert period_months("resident", 100000, 0, 0, "110101", regions) == 12
    assert period_months("civil_servant", 100000, 0, 0, "440305", regions) == 6
    assert period_months("resident", 100000, 0, 0, "310101", regions) == 3
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert months_between(date(2026, 1, 10), date(2026, 3, 11)) == 3


def test_status_transitions() -> None:
    until = date(2026, 12, 31)
    assert status_on(until, date(2026, 9, 30)) == "valid"
    assert status_on(until, date(2026, 10, 1)) == "warning"
    assert status_on(until, date(2026, 12, 31)) == "warning"
    assert status_on(until, date(2027, 1, 1)) == "suspended"
    assert status_on(until, date(2026, 1, 1), stopped=True) == "stopped"


def test_refresh_notifies_and_a_pass_after_suspension_flags_backpay(
        app: Flask, platform: Platform, faces_dir: Path) -> None:
    channel = setup_platform(platform)
    katie_holder(platform, faces_dir, channel)
    today = platform.clock.now().date()
    with platform.db.transaction() as session:
        r = session.scalars(select(BenefitRecipient)).one()
        r.certified_until = today + timedelta(days=30)
    summary = refresh_statuses(platform.db, platform.clock, today, Actor.system())
    assert summary.changed == 1 and summary.statuses == {"warning": 1}
    assert summary.notifications == 1
    later = today + timedelta(days=100)
    assert refresh_statuses(platform.db, platform.clock, later, Actor.system()).statuses == {
        "suspended": 1}
    with platform.db.transaction() as session:
        events = [n.event for n in session.scalars(select(Notification).order_by(
            Notification.id))]
        assert events[-2:] == ["certification_warning", "certification_suspended"]
        r = session.scalars(select(BenefitRecipient)).one()
        out = record_pass(session, platform.clock, r, later, Actor.system(), source="test")
        assert out["old_status"] == "suspended" and r.backpay_due
        assert r.backpay_months == 3 and r.status == "valid"
        assert r.certified_until == add_months(later, 14)
        last = session.scalars(select(Notification).order_by(Notification.id.desc())).first()
        assert last is not None and last.event == "certification_reinstated"
