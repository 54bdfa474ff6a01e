"""``ecard worker`` and ``ecard callbacks``: delivering and inspecting the outbox."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

import click

from ecard.cli import Context, pass_ctx
from ecard.notifications.models import OUTBOX_STATUSES


@click.command()
@click.option("--once", is_flag=True, help="Deliver everything due now, then exit (cron, tests).")
@click.option("--batch", "batch_size", type=click.IntRange(1, 1000), default=None,
              help="Notifications claimed per batch (default: CALLBACK_BATCH_SIZE, 100).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Parallel POSTs per batch (default: CALLBACK_CONCURRENCY, 8).")
@click.option("--poll", "poll_s", type=click.FloatRange(0.05, 60), default=1.0,
              show_default=True, help="Seconds to wait when nothing is due.")
@pass_ctx
def worker(ctx: Context, once: bool, batch_size: int | None, concurrency: int | None,
           poll_s: float) -> None:
    """Deliver notifications to the channels' callback URLs, signed, in order per e-card.
    Several workers may run at once; SIGTERM or Ctrl-C stops after the current batch."""
    from ecard.notifications.worker import CallbackWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides: dict[str, Any] = {k: v for k, v in (("batch_size", batch_size),
                                                   ("concurrency", concurrency))
                 if v is not None}
    w = CallbackWorker.from_config(ctx.platform, **overrides)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"worker {w.name}: {signal.Signals(signum).name}, stopping after this batch",
                   err=True)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if once:
            stats = w.drain(stop)
        else:
            click.echo(f"worker {w.name}: delivering callbacks (batch {w.batch_size}, "
                       f"{w.concurrency} in parallel)", err=True)
            stats = w.run(stop, poll_s)
    finally:
        w.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"worker {w.name}: {stats.line()}")


@click.group()
def callbacks() -> None:
    """The outbox of callbacks to channels."""


@callbacks.command("list")
@click.option("--status", type=click.Choice(OUTBOX_STATUSES), default=None)
@click.option("--channel", "channel_no", default=None, help="10-digit channel number.")
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@pass_ctx
def callbacks_list(ctx: Context, status: str | None, channel_no: str | None,
                   limit: int) -> None:
    """Notifications, newest first: id, channel, e-card, event, status, attempts, error."""
    from ecard.notifications.services import list_notifications

    with ctx.platform.db.transaction() as session:
        notes = list_notifications(session, status=status, channel_no=channel_no, limit=limit)
    for n in notes:
        when = n.delivered_at if n.status == "delivered" else n.next_attempt_at
        click.echo(f"{n.id:>8}  {n.channel_no}  {n.sign_no or '-':<20}  {n.event:<24}  "
                   f"{n.status:<9}  attempts {n.attempts:<3}  {when:%Y-%m-%d %H:%M:%S}  "
                   f"{n.last_error or ''}".rstrip())
    click.echo(f"{len(notes)} notification(s)", err=True)


@callbacks.command("redeliver")
@click.argument("ids", nargs=-1, type=int)
@click.option("--channel", "channel_no", default=None, help="10-digit channel number.")
@click.option("--status", type=click.Choice(("dead", "delivered")), default=None,
              help="With --channel: which notifications (default dead).")
@pass_ctx
def callbacks_redeliver(ctx: Context, ids: tuple[int, ...], channel_no: str | None,
                        status: str | None) -> None:
    """Send notifications again: by ID..., or all of --channel C --status dead.
    Their attempt count is kept; the dead-letter limit counts anew."""
    from ecard.notifications.services import redeliver

    if not ids and channel_no is None:
        raise click.UsageError("give notification IDs, or --channel C [--status dead]")
    if channel_no is not None and not ids and status is None:
        status = "dead"
    p = ctx.platform
    with p.db.transaction() as session:
        done = redeliver(session, p.clock, ctx.actor, ids=ids, channel_no=channel_no,
                         status=status)
    if ids and len(done) < len(set(ids)):
        missing = sorted(set(ids) - set(done))
        click.echo(f"not redelivered (unknown, or still pending): {missing}", err=True)
    click.echo(f"redelivering {len(done)} notification(s)")


def register(main: click.Group) -> None:
    main.add_command(worker)
    main.add_command(callbacks)
