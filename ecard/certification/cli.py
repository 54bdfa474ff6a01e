"""``ecard certification``: recipients, statuses, deaths and failure statistics."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from ecard.cli import Context, pass_ctx
from ecard.errors import EcardError

EXIT_BAD_INPUT = 2


@click.group("certification")
def certification() -> None:
    """Pension certification (待遇资格认证)."""


def _today(ctx: Context) -> date:
    from ecard.certification.entitlement import local_today
    p = ctx.platform
    return local_today(p.clock, int(p.config["CERTIFICATION_UTC_OFFSET_MIN"]))


@certification.command("import-recipients")
@click.argument("csv_file", metavar="CSV", type=click.Path(path_type=Path))
@click.option("--rejects", "rejects_path", type=click.Path(path_type=Path), default=None)
@click.option("--no-progress", is_flag=True)
@pass_ctx
def import_cmd(ctx: Context, csv_file: Path, rejects_path: Path | None,
               no_progress: bool) -> None:
    """Validate and upsert benefit recipients (format: ecard.certification.recipients)."""
    from rich.console import Console
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    from ecard.certification.entitlement import parse_region_periods
    from ecard.certification.recipients import ImportAborted, RecipientImporter

    if not csv_file.is_file():
        click.echo(f"error: {csv_file} does not exist or is not a file", err=True)
        sys.exit(EXIT_BAD_INPUT)
    p = ctx.platform
    console = Console(stderr=True)
    bar = Progress(TextColumn("importing recipients"), TextColumn("{task.completed:,} rows"),
                   TimeElapsedColumn(), console=console, transient=True,
                   disable=no_progress or not console.is_terminal)
    task = bar.add_task("import", total=None)
    importer = RecipientImporter(
        p.db, p.protector, p.clock, ctx.actor, today=_today(ctx),
        region_periods=parse_region_periods(p.config["CERTIFICATION_REGION_PERIODS"]),
        progress=lambda n: bar.update(task, completed=n))
    try:
        with bar:
            s = importer.run(csv_file, rejects_path)
    except ImportAborted as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"read {s.read:,}  inserted {s.inserted:,}  updated {s.updated:,}  "
               f"unchanged {s.unchanged:,}  rejected {s.rejected:,}")
    if s.rejected:
        reasons = ", ".join(f"{c} {n}" for c, n in s.reasons.most_common())
        click.echo(f"{s.rejected:,} row(s) rejected ({reasons}); see {s.rejects_path}")


@certification.command("refresh-status")
@click.option("--no-progress", is_flag=True)
@pass_ctx
def refresh_cmd(ctx: Context, no_progress: bool) -> None:
    """Recompute every recipient's status; notify channels of warnings and suspensions."""
    from rich.console import Console
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    from ecard.certification.entitlement import refresh_statuses
    p = ctx.platform
    console = Console(stderr=True)
    bar = Progress(TextColumn("refreshing statuses"), TextColumn("{task.completed:,}"),
                   TimeElapsedColumn(), console=console, transient=True,
                   disable=no_progress or not console.is_terminal)
    task = bar.add_task("refresh", total=None)
    with bar:
        s = refresh_statuses(p.db, p.clock, _today(ctx), ctx.actor,
                             progress=lambda n: bar.update(task, completed=n))
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(s.statuses.items()))
    click.echo(f"recipients {s.seen:,}; changed {s.changed:,}; notifications "
               f"{s.notifications:,}; now: {statuses or 'none'}")


@certification.command("record-death")
@click.argument("id_number")
@click.option("--date", "died_on", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date of death (default: today).")
@pass_ctx
def death_cmd(ctx: Context, id_number: str, died_on: object) -> None:
    """Stop the entitlement of the recipient with ID_NUMBER (death registration)."""
    from datetime import datetime

    from sqlalchemy import select

    from ecard.cards.identity import check_id_number
    from ecard.certification.entitlement import record_death
    from ecard.certification.models import BenefitRecipient
    from ecard.protect import mask_id_number
    from ecard.registry.models import Person
    p = ctx.platform
    try:
        number = check_id_number(id_number, p.clock)
        with p.db.transaction() as session:
            recipient = session.scalars(
                select(BenefitRecipient).join(Person, Person.id == BenefitRecipient.person_id)
                .where(Person.id_index == p.protector.blind_index(number))).one_or_none()
            if recipient is None:
                raise EcardError("RECIPIENT_NOT_FOUND")
            day = died_on.date() if isinstance(died_on, datetime) else _today(ctx)
            record_death(session, p.clock, recipient, day, ctx.actor)
    except EcardError as exc:
        raise click.ClickException(f"{exc.code}: {exc.to_dict('en')['message']}") from exc
    click.echo(f"recipient {mask_id_number(number)}: stopped (died {day.isoformat()})")


@certification.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def stats_cmd(ctx: Context, as_json: bool) -> None:
    """Failure statistics per age band, mode and reason."""
    from ecard.certification.stats import failure_stats, stats_table
    p = ctx.platform
    with p.db.transaction() as session:
        stats = failure_stats(session)
    if as_json:
        click.echo(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        click.echo(stats_table(stats))


def register(main: click.Group) -> None:
    main.add_command(certification)
