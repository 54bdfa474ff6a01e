"""Purging what grows without bound and serves no purpose once old.

What is deleted, and why it is safe (every rule keeps a margin over the window in
which the row can still decide anything):

- ``used_tokens`` (channel token ids): once the token expired plus ``GRACE_S``, it is
  refused on its ``exp`` before its ``jti`` is looked at.
- ``h5_ticket_uses`` (government-app sign-on tickets): the same, on the ticket's
  ``exp``.
- ``identity_codes`` (one-time online redemption of identity codes): once expired
  plus ``GRACE_S``, the signature check refuses the code first. (Issuing also trims
  these; the purge covers a platform that stopped issuing.)
- ``idempotency_records``: past their retention (``RETENTION_S``, 24 h), a retry
  with the same key is a new request.
- ``notifications`` delivered more than ``--notifications-days`` ago. Pending and
  dead-lettered ones are kept: they are work still to do or for an operator to see.
- ``merchant_orders`` never paid and expired more than ``--orders-days`` ago (a
  paid order stays beside its payment).
- ``sms_challenges`` expired more than a day ago (the code hash of a dead code).

Not purged, on purpose: the audit log, the ledger, payments, refunds and payment
code uses (a code is redeemable once, ever), certification sessions, attempts and
seen frames (replay detection spans a person's whole history), disclosures (the
holder's record of who received what), payout files and positions. Status-list
snapshots trim themselves as they are built.

Rows go in batches (``batch`` per transaction) so a large backlog never holds one
long transaction; ``progress`` hears of every batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_

from ecard.audit.services import Actor, AuditLog
from ecard.clock import Clock
from ecard.db import Database

GRACE_S = 300  # above the accepted clock skew and any one-time token's lifetime
DEFAULT_NOTIFICATION_DAYS = 30
DEFAULT_ORDER_DAYS = 30
SMS_KEEP_S = 24 * 3600
Progress = Callable[[str, int], None]  # (table, rows deleted so far)


@dataclass(frozen=True)
class Rule:
    table: str
    model: Any
    condition: ColumnElement[bool]
    why: str


def rules(now: datetime, *, notification_days: int, order_days: int) -> list[Rule]:
    from channel_adapters.models import H5TicketUse
    from ecard.channels.models import UsedToken
    from ecard.http.idempotency import RETENTION_S
    from ecard.http.models import IdempotencyRecord
    from ecard.notifications.models import Notification
    from ecard.payments.models import MerchantOrder, SmsChallenge
    from ecard.tokens.models import IdentityCode

    grace = now - timedelta(seconds=GRACE_S)
    return [
        Rule("used_tokens", UsedToken, UsedToken.expires_at < grace,
             "channel token ids of expired tokens"),
        Rule("h5_ticket_uses", H5TicketUse, H5TicketUse.expires_at < grace,
             "used H5 sign-on tickets, expired"),
        Rule("identity_codes", IdentityCode, IdentityCode.expires_at < grace,
             "identity-code redemptions, expired"),
        Rule("idempotency_records", IdempotencyRecord,
             IdempotencyRecord.created_at < now - timedelta(seconds=RETENTION_S),
             "idempotency keys past their 24 h retention"),
        Rule("notifications", Notification,
             (Notification.status == "delivered")
             & (Notification.delivered_at < now - timedelta(days=notification_days)),
             f"notifications delivered more than {notification_days} days ago"),
        Rule("merchant_orders", MerchantOrder,
             (MerchantOrder.status == "open")
             & (MerchantOrder.expires_at < now - timedelta(days=order_days)),
             f"unpaid merchant orders expired more than {order_days} days ago"),
        Rule("sms_challenges", SmsChallenge,
             SmsChallenge.expires_at < now - timedelta(seconds=SMS_KEEP_S),
             "SMS codes expired more than a day ago"),
    ]


@dataclass(frozen=True)
class PurgeResult:
    table: str
    why: str
    rows: int


def purge(db: Database, clock: Clock, actor: Actor, *,
          notification_days: int = DEFAULT_NOTIFICATION_DAYS,
          order_days: int = DEFAULT_ORDER_DAYS, batch: int = 5000, dry_run: bool = False,
          progress: Progress | None = None) -> list[PurgeResult]:
    """Delete (or, ``dry_run``, count) what the rules name; one audit entry says
    how many rows of each table went."""
    if notification_days < 1 or order_days < 1 or batch < 1:
        raise ValueError("days and batch must be at least 1")
    now = clock.now()
    results = []
    for rule in rules(now, notification_days=notification_days, order_days=order_days):
        done = _count(db, rule) if dry_run else _delete(db, rule, batch, progress)
        results.append(PurgeResult(rule.table, rule.why, done))
    if not dry_run:
        with db.transaction() as session:
            AuditLog(session, clock).record(actor, "maintenance.purged", details={
                "deleted": {r.table: r.rows for r in results},
                "notification_days": notification_days, "order_days": order_days})
    return results


def _count(db: Database, rule: Rule) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(rule.model)
                                  .where(rule.condition)) or 0)


def _delete(db: Database, rule: Rule, batch: int, progress: Progress | None) -> int:
    key = tuple_(*rule.model.__table__.primary_key.columns)
    total = 0
    while True:
        with db.transaction() as session:
            chunk = select(*rule.model.__table__.primary_key.columns).where(
                rule.condition).limit(batch)
            result = session.execute(delete(rule.model).where(key.in_(chunk))
                                     .execution_options(synchronize_session=False))
            gone = int(getattr(result, "rowcount", 0) or 0)
        total += gone
        if progress is not None and gone:
            progress(rule.table, total)
        if gone < batch:
            return total
