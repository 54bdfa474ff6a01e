"""Entitlement periods and statuses of pension recipients (DESIGN, Certification).

Personal period: enterprise retirees ``(funeral grant + survivor lump sum) / monthly
pension`` whole months, clamped to 6-24; residents and civil servants 12 months, or
the region's own period (``CERTIFICATION_REGION_PERIODS``, longest matching prefix of
the region code). Status on a day: ``stopped`` after a death, ``suspended`` past
``certified_until``, ``warning`` inside its last 3 months, ``valid`` before that.
A pass (a session or an approved appeal) extends ``certified_until`` from the day of
the pass by the period; a suspended recipient who passes is flagged for back-pay.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.models import ECard
from ecard.certification.models import BenefitRecipient
from ecard.clock import Clock
from ecard.db import Database
from ecard.notifications.services import enqueue_notification

MIN_PERIOD, MAX_PERIOD, DEFAULT_PERIOD = 6, 24, 12
WARNING_MONTHS = 3


def parse_region_periods(text: str | Mapping[str, int] | None) -> dict[str, int]:
    """``"44=6,310101=3"`` -> {"44": 6, "310101": 3}; a mapping passes through."""
    if not text:
        return {}
    if isinstance(text, Mapping):
        return {str(k): int(v) for k, v in text.items()}
    out: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        prefix, _, months = part.partition("=")
        prefix = prefix.strip()
        if not (prefix.isdigit() and 1 <= len(prefix) <= 6 and months.strip().isdigit()):
            raise ValueError(f"bad region period {part!r}: expected REGION_PREFIX=MONTHS")
        out[prefix] = int(months)
    return out


def add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end``, a started month counting as one."""
    if end <= start:
        return 0
    n = (end.year - start.year) * 12 + end.month - start.month
    return n + 1 if add_months(start, n) < end else n


def period_months(type_: str, monthly_pension_fen: int, funeral_grant_fen: int,
                  survivor_lump_sum_fen: int, region: str,
                  region_periods: Mapping[str, int]) -> int:
    if type_ == "enterprise_retiree":
        if monthly_pension_fen <= 0:
            return MIN_PERIOD
        months = (funeral_grant_fen + survivor_lump_sum_fen) // monthly_pension_fen
        return max(MIN_PERIOD, min(MAX_PERIOD, months))
    for length in range(len(region), 0, -1):
        if region[:length] in region_periods:
            return region_periods[region[:length]]
    return DEFAULT_PERIOD


def status_on(certified_until: date, today: date, *, stopped: bool = False) -> str:
    if stopped:
        return "stopped"
    if today > certified_until:
        return "suspended"
    if today > add_months(certified_until, -WARNING_MONTHS):
        return "warning"
    return "valid"


def notify_holders(session: Session, clock: Clock, recipient: BenefitRecipient,
                   event: str) -> int:
    """Tell every channel holding the person's active e-card; payloads carry no PII."""
    cards = session.scalars(select(ECard).where(ECard.person_id == recipient.person_id,
                                                ECard.status == "active")).all()
    for card in cards:
        enqueue_notification(session, clock, card.channel_no, card.sign_no, event, {
            "sign_no": card.sign_no, "openid": card.openid,
            "certification_status": recipient.status,
            "certified_until": recipient.certified_until.isoformat(),
            "occurred_at": clock.now().isoformat()})
    return len(cards)


def record_pass(session: Session, clock: Clock, recipient: BenefitRecipient, today: date,
                actor: Actor, *, source: str, channel_no: str | None = None
                ) -> dict[str, Any]:
    """Extend ``certified_until`` from ``today``; flag back-pay after a suspension."""
    old_status = status_on(recipient.certified_until, today,
                           stopped=recipient.status == "stopped")
    old_until = recipient.certified_until
    if old_status == "suspended":
        recipient.backpay_due = True
        recipient.backpay_months += months_between(old_until, today)
    recipient.certified_until = max(old_until, add_months(today, recipient.period_months))
    recipient.status = status_on(recipient.certified_until, today)
    recipient.last_certified_at = clock.now()
    recipient.updated_at = clock.now()
    session.flush()
    if old_status == "suspended":
        notify_holders(session, clock, recipient, "certification_reinstated")
    details = {"source": source, "old_status": old_status, "status": recipient.status,
               "certified_until": recipient.certified_until.isoformat(),
               "backpay_due": recipient.backpay_due, "backpay_months": recipient.backpay_months}
    AuditLog(session, clock).record(actor, "certification.entitlement_extended",
                                    subject=f"person:{recipient.person_id}",
                                    channel_no=channel_no, scene="certification",
                                    details=details)
    return details


@dataclass
class RefreshSummary:
    seen: int = 0
    changed: int = 0
    notifications: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def refresh_statuses(db: Database, clock: Clock, today: date, actor: Actor, *,
                     batch_size: int = 1000,
                     progress: Callable[[int], None] | None = None) -> RefreshSummary:
    """Recompute every recipient's status in id order, one transaction per batch;
    a move to warning or suspended notifies the channels holding the e-card."""
    summary = RefreshSummary()
    last_id = 0
    events = {"warning": "certification_warning", "suspended": "certification_suspended"}
    while True:
        with db.transaction() as session:
            batch = session.scalars(
                select(BenefitRecipient).where(BenefitRecipient.id > last_id)
                .order_by(BenefitRecipient.id).limit(batch_size)).all()
            if not batch:
                break
            for r in batch:
                new = status_on(r.certified_until, today, stopped=r.status == "stopped")
                summary.statuses[new] = summary.statuses.get(new, 0) + 1
                if new != r.status:
                    r.status, r.updated_at = new, clock.now()
                    summary.changed += 1
                    if new in events:
                        summary.notifications += notify_holders(session, clock, r, events[new])
            summary.seen += len(batch)
            last_id = batch[-1].id
        if progress is not None:
            progress(summary.seen)
    with db.transaction() as session:
        AuditLog(session, clock).record(actor, "certification.statuses_refreshed",
                                        details={"day": today.isoformat(),
                                                 "seen": summary.seen,
                                                 "changed": summary.changed,
                                                 "notifications": summary.notifications,
                                                 "statuses": summary.statuses})
    return summary


def record_death(session: Session, clock: Clock, recipient: BenefitRecipient, died_on: date,
                 actor: Actor) -> None:
    recipient.status, recipient.died_on, recipient.updated_at = "stopped", died_on, clock.now()
    AuditLog(session, clock).record(actor, "certification.recipient_stopped",
                                    subject=f"person:{recipient.person_id}",
                                    details={"died_on": died_on.isoformat()})


def local_today(clock: Clock, utc_offset_min: int) -> date:
    return (clock.now() + timedelta(minutes=utc_offset_min)).date()
