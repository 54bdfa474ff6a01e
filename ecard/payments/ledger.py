"""The double-entry ledger: accounts, postings and their entries.

``post`` moves money as one posting whose entries sum to zero. Every balance change
is a single atomic statement: a debit is ``UPDATE ... SET balance_fen = balance_fen -
:amount WHERE id = :id AND balance_fen >= :amount`` (no read-modify-write in Python),
and ``CHECK (balance_fen >= 0)`` backs it. A posting is unique on ``(kind, ref)``,
so one business event cannot post twice. Accounts are updated in the order of their
ids, so concurrent postings over the same accounts (a payment and a refund) lock
rows in one order and cannot deadlock; a refusal (``INSUFFICIENT_FUNDS``) raises and
the caller's transaction rolls back whatever came before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ecard.payments.interfaces import PaymentError
from ecard.payments.models import Account, Entry, Posting

EXTERNAL_BANK = "bank"


@dataclass(frozen=True)
class Leg:
    account_id: int
    amount_fen: int  # negative: debit (money leaves the account)


def insert_ignore(session: Session, table: type, values: dict[str, object]) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING``; True when the row was inserted.

    On PostgreSQL a conflicting row that another transaction has not committed yet
    makes this wait for that transaction: a unique key decides races without
    aborting the caller's transaction.
    """
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))
    key = list(table.__table__.primary_key.columns)  # type: ignore[attr-defined]
    result = session.execute(stmt.values(**values).on_conflict_do_nothing().returning(*key))
    return result.first() is not None  # (rowcount is -1 here under psycopg 3)


def account_id(session: Session, kind: str, owner: str, now: datetime) -> int:
    """The account's id, created (balance 0) when absent; safe against a racing
    creator."""
    insert_ignore(session, Account, {"kind": kind, "owner": owner, "balance_fen": 0,
                                     "created_at": now})
    found: int = session.scalars(
        select(Account.id).where(Account.kind == kind, Account.owner == owner)).one()
    return found


def balance(session: Session, account: int) -> int:
    value: int = session.scalars(
        select(Account.balance_fen).where(Account.id == account)
        .execution_options(populate_existing=True)).one()
    return value


def post(session: Session, kind: str, ref: str, legs: Sequence[Leg], now: datetime, *,
         refusal: str = "INSUFFICIENT_FUNDS") -> int:
    """Write one posting; returns its id. Raises ``refusal`` when a debited account
    (other than the external one) lacks the funds."""
    if len(legs) < 2 or sum(leg.amount_fen for leg in legs) != 0:
        raise ValueError("a posting needs two or more legs that sum to zero")
    if any(leg.amount_fen == 0 for leg in legs):
        raise ValueError("a posting leg must move money")
    external = set(session.scalars(select(Account.id).where(
        Account.kind == "external", Account.id.in_([leg.account_id for leg in legs]))))
    ordered = sorted(legs, key=lambda leg: leg.account_id)
    for leg in ordered:
        stmt = update(Account).where(Account.id == leg.account_id)
        if leg.amount_fen < 0 and leg.account_id not in external:
            stmt = stmt.where(Account.balance_fen >= -leg.amount_fen)
        result = session.execute(
            stmt.values(balance_fen=Account.balance_fen + leg.amount_fen)
            .execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            raise PaymentError(refusal)
    amount = sum(leg.amount_fen for leg in legs if leg.amount_fen > 0)
    posting_id: int = session.execute(
        insert(Posting).values(kind=kind, ref=ref, amount_fen=amount, created_at=now)
        .returning(Posting.id)).scalar_one()
    session.execute(insert(Entry), [
        {"posting_id": posting_id, "account_id": leg.account_id, "amount_fen": leg.amount_fen}
        for leg in legs])
    return posting_id


def unbalanced_postings(session: Session) -> list[int]:
    """Postings whose entries do not sum to zero (always empty unless rows were
    edited by hand)."""
    rows = session.execute(select(Entry.posting_id).group_by(Entry.posting_id)
                           .having(func.sum(Entry.amount_fen) != 0)).scalars()
    return list(rows)


def total_balance(session: Session) -> int:
    """Sum of all balances: zero in a closed double-entry ledger."""
    return int(session.scalar(select(func.coalesce(func.sum(Account.balance_fen), 0))) or 0)
