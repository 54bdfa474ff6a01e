"""The merchant's daily statement, checked against the ledger.

The day is a calendar day in China Standard Time (UTC+8), the merchants' own
business day. Rows: every payment captured that day (+) and every refund made that
day (-), from the payments and refunds tables. The totals must equal what the
ledger moved on the merchant's settlement account over the same interval, by
posting kind; a difference is reported, never hidden.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecard.clock import utc
from ecard.payments.models import Account, Entry, Payment, Posting, Refund

CST = timezone(timedelta(hours=8), "CST")
HEADER = ["type", "at", "payment_id", "order_id", "refund_id", "amount_fen", "scene", "kind"]


@dataclass(frozen=True)
class Statement:
    merchant_no: str
    day: date
    rows: list[list[str]]
    payments_fen: int
    refunds_fen: int
    ledger_payments_fen: int
    ledger_refunds_fen: int

    @property
    def net_fen(self) -> int:
        return self.payments_fen - self.refunds_fen

    @property
    def ledger_net_fen(self) -> int:
        return self.ledger_payments_fen - self.ledger_refunds_fen

    @property
    def balanced(self) -> bool:
        return (self.payments_fen, self.refunds_fen) == (self.ledger_payments_fen,
                                                         self.ledger_refunds_fen)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), CST).astimezone(UTC)
    return start, start + timedelta(days=1)


def statement(session: Session, merchant_no: str, day: date) -> Statement:
    start, end = day_bounds(day)
    rows: list[list[str]] = []
    paid = refunded = 0
    for p in session.scalars(select(Payment).where(
            Payment.merchant_no == merchant_no, Payment.captured_at >= start,
            Payment.captured_at < end).order_by(Payment.captured_at, Payment.id)):
        assert p.captured_at is not None
        rows.append(["payment", utc(p.captured_at).isoformat(), p.id, p.order_id, "",
                     str(p.amount_fen), p.scene, p.kind])
        paid += p.amount_fen
    for r, p in session.execute(select(Refund, Payment).join(
            Payment, Payment.id == Refund.payment_id).where(
            Payment.merchant_no == merchant_no, Refund.created_at >= start,
            Refund.created_at < end).order_by(Refund.created_at, Refund.id)).all():
        rows.append(["refund", utc(r.created_at).isoformat(), p.id, p.order_id, r.refund_id,
                     str(-r.amount_fen), p.scene, p.kind])
        refunded += r.amount_fen
    ledger = dict(session.execute(
        select(Posting.kind, func.coalesce(func.sum(Entry.amount_fen), 0))
        .join(Entry, Entry.posting_id == Posting.id)
        .join(Account, Account.id == Entry.account_id)
        .where(Account.kind == "merchant", Account.owner == merchant_no,
               Posting.created_at >= start, Posting.created_at < end)
        .group_by(Posting.kind)).all())
    return Statement(merchant_no=merchant_no, day=day, rows=rows, payments_fen=paid,
                     refunds_fen=refunded,
                     ledger_payments_fen=int(ledger.get("payment", 0)),
                     ledger_refunds_fen=-int(ledger.get("refund", 0)))


def write_csv(stmt: Statement, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(stmt.rows)
    writer.writerow(["total_payments", "", "", "", "", str(stmt.payments_fen), "", ""])
    writer.writerow(["total_refunds", "", "", "", "", str(-stmt.refunds_fen), "", ""])
    writer.writerow(["net", "", "", "", "", str(stmt.net_fen), "", ""])
