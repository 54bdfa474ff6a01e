"""The merchant's daily statement, checked against the ledger.

The day is a calendar day in China Standard Time (UTC+8), the merchants' own
business day. Rows: every payment captured that day (+) and every refund made that
day (-), from the payments and refunds tables. The totals must equal what the
ledger moved on the merchant's settlement account over the same interval, by
posting kind; a difference is reported, never hidden.

A medical bill's rows also carry its parts (``fund_fen``, ``personal_account_fen``,
``cash_fen``; empty for other payments), and the totals rows their sums: what the
insurance funds owe the merchant and what the holders paid.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecard.clock import utc
from ecard.payments.models import Account, Entry, MedicalSettlement, Payment, Posting, Refund

CST = timezone(timedelta(hours=8), "CST")
HEADER = ["type", "at", "payment_id", "order_id", "refund_id", "amount_fen", "scene", "kind",
          "fund_fen", "personal_account_fen", "cash_fen"]
PARTS = ("fund_fen", "personal_account_fen", "cash_fen")


@dataclass(frozen=True)
class Statement:
    merchant_no: str
    day: date
    rows: list[list[str]]
    payments_fen: int
    refunds_fen: int
    ledger_payments_fen: int
    ledger_refunds_fen: int
    payment_parts_fen: dict[str, int]  # medical bills: fund, personal account, cash
    refund_parts_fen: dict[str, int]

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
    paid_parts = dict.fromkeys(PARTS, 0)
    refunded_parts = dict.fromkeys(PARTS, 0)
    for p, m in session.execute(select(Payment, MedicalSettlement).outerjoin(
            MedicalSettlement, MedicalSettlement.payment_id == Payment.id).where(
            Payment.merchant_no == merchant_no, Payment.captured_at >= start,
            Payment.captured_at < end).order_by(Payment.captured_at, Payment.id)).all():
        assert p.captured_at is not None
        bill = None if m is None else (m.fund_fen, m.personal_account_fen, m.cash_fen)
        rows.append(["payment", utc(p.captured_at).isoformat(), p.id, p.order_id, "",
                     str(p.amount_fen), p.scene, p.kind, *_cells(bill, paid_parts)])
        paid += p.amount_fen
    for r, p in session.execute(select(Refund, Payment).join(
            Payment, Payment.id == Refund.payment_id).where(
            Payment.merchant_no == merchant_no, Refund.created_at >= start,
            Refund.created_at < end).order_by(Refund.created_at, Refund.id)).all():
        back = None if r.fund_fen is None else (
            r.fund_fen, r.personal_account_fen or 0, r.cash_fen or 0)
        rows.append(["refund", utc(r.created_at).isoformat(), p.id, p.order_id, r.refund_id,
                     str(-r.amount_fen), p.scene, p.kind,
                     *_cells(back, refunded_parts, sign=-1)])
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
                     ledger_refunds_fen=-int(ledger.get("refund", 0)),
                     payment_parts_fen=paid_parts, refund_parts_fen=refunded_parts)


def _cells(parts: tuple[int, int, int] | None, totals: dict[str, int], *,
           sign: int = 1) -> list[str]:
    """A row's part cells (empty for a payment that is not a medical bill), added to
    ``totals``."""
    if parts is None:
        return ["", "", ""]
    for name, value in zip(PARTS, parts, strict=True):
        totals[name] += value
    return [str(sign * value) for value in parts]


def write_csv(stmt: Statement, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(stmt.rows)
    paid, back = stmt.payment_parts_fen, stmt.refund_parts_fen
    writer.writerow(["total_payments", "", "", "", "", str(stmt.payments_fen), "", "",
                     *(str(paid[k]) for k in PARTS)])
    writer.writerow(["total_refunds", "", "", "", "", str(-stmt.refunds_fen), "", "",
                     *(str(-back[k]) for k in PARTS)])
    writer.writerow(["net", "", "", "", "", str(stmt.net_fen), "", "",
                     *(str(paid[k] - back[k]) for k in PARTS)])
