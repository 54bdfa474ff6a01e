"""``ecard maintenance``: housekeeping commands for a cron job or an operator."""

from __future__ import annotations

import click

from ecard.cli import Context, pass_ctx
from ecard.maintenance.services import (
    DEFAULT_NOTIFICATION_DAYS,
    DEFAULT_ORDER_DAYS,
    purge,
)


@click.group()
def maintenance() -> None:
    """Housekeeping: purge rows that are no longer needed."""


@maintenance.command("purge")
@click.option("--notifications-days", type=click.IntRange(min=1),
              default=DEFAULT_NOTIFICATION_DAYS, show_default=True,
              help="Delete notifications delivered more than this many days ago "
                   "(pending and dead ones are kept).")
@click.option("--orders-days", type=click.IntRange(min=1), default=DEFAULT_ORDER_DAYS,
              show_default=True,
              help="Delete unpaid merchant orders expired more than this many days ago.")
@click.option("--batch", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Rows deleted per transaction.")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@pass_ctx
def purge_cmd(ctx: Context, notifications_days: int, orders_days: int, batch: int,
              dry_run: bool) -> None:
    """Delete expired one-time records (channel token ids, H5 tickets, identity-code
    redemptions), idempotency keys past retention, old delivered notifications,
    long-expired unpaid orders and dead SMS codes; prints a count per table."""
    platform = ctx.platform

    def progress(table: str, rows: int) -> None:
        click.echo(f"  {table}: {rows} deleted so far", err=True)

    results = purge(platform.db, platform.clock, ctx.actor,
                    notification_days=notifications_days, order_days=orders_days,
                    batch=batch, dry_run=dry_run, progress=progress)
    verb = "would delete" if dry_run else "deleted"
    width = max(len(r.table) for r in results)
    for r in results:
        click.echo(f"{r.table:<{width}}  {verb} {r.rows:>8}  ({r.why})")
    click.echo(f"{'total':<{width}}  {verb} {sum(r.rows for r in results):>8}")


def register(main: click.Group) -> None:
    main.add_command(maintenance)
