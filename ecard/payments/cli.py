"""``ecard payments``: the merchant's daily reconciliation statement."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from ecard.cli import Context, iso_day, pass_ctx
from ecard.payments.reconcile import statement, write_csv


@click.group()
def payments() -> None:
    """Payments: statements and reconciliation."""


@payments.command()
@click.option("--merchant", required=True, help="The merchant's 10-digit channel number.")
@click.option("--date", "day", required=True, callback=iso_day,
              help="Business day, YYYY-MM-DD (China Standard Time).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="CSV file to write (default: standard output).")
@pass_ctx
def reconcile(ctx: Context, merchant: str, day: date, out: Path | None) -> None:
    """Write the day's statement (payments, refunds, net) and check it against the
    ledger; exits 1 when the totals differ."""
    with ctx.platform.db.transaction() as session:
        stmt = statement(session, merchant, day)
    if out is None:
        write_csv(stmt, sys.stdout)
    else:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            write_csv(stmt, fh)
    summary = (f"{merchant} {day}: {len([r for r in stmt.rows if r[0] == 'payment'])} "
               f"payments {stmt.payments_fen} fen, "
               f"{len([r for r in stmt.rows if r[0] == 'refund'])} refunds "
               f"{stmt.refunds_fen} fen, net {stmt.net_fen} fen")
    fund = stmt.payment_parts_fen["fund_fen"] - stmt.refund_parts_fen["fund_fen"]
    if any(stmt.payment_parts_fen.values()) or any(stmt.refund_parts_fen.values()):
        personal = (stmt.payment_parts_fen["personal_account_fen"]
                    - stmt.refund_parts_fen["personal_account_fen"])
        cash = stmt.payment_parts_fen["cash_fen"] - stmt.refund_parts_fen["cash_fen"]
        summary += (f" (medical net: fund {fund} fen, personal account {personal} fen, "
                    f"cash {cash} fen)")
    if not stmt.balanced:
        raise click.ClickException(
            f"statement does not match the ledger: {summary}; ledger payments "
            f"{stmt.ledger_payments_fen} fen, refunds {stmt.ledger_refunds_fen} fen, "
            f"net {stmt.ledger_net_fen} fen")
    click.echo(f"reconciled: {summary}; equals the ledger", err=True)
