"""``ecard registry``: load the physical-card registry and change card statuses."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ecard.cli import Context, pass_ctx
from ecard.errors import EcardError
from ecard.protect import mask_card_number
from ecard.registry.importer import BATCH_SIZE, MAX_BATCH_SIZE, ImportAborted, ImportSummary

EXIT_BAD_INPUT = 2


def _error_text(exc: EcardError) -> str:
    text = exc.override_message or exc.to_dict("en")["message"]
    return f"{exc.code}: {text}" + (f" {json.dumps(exc.details)}" if exc.details else "")


@click.group()
def registry() -> None:
    """The registry of physical-card holders."""


@registry.command("import")
@click.argument("csv_file", metavar="CSV", type=click.Path(path_type=Path))
@click.option("--photos", "photos_dir", type=click.Path(path_type=Path), default=None,
              help="Folder the photo column is relative to (default: the CSV's folder).")
@click.option("--rejects", "rejects_path", type=click.Path(path_type=Path), default=None,
              help="Where rejected rows go (default: <CSV>.rejects.csv).")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=BATCH_SIZE,
              show_default=True, help="Rows per transaction.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_ctx
def import_cmd(ctx: Context, csv_file: Path, photos_dir: Path | None,
               rejects_path: Path | None, batch_size: int, no_progress: bool) -> None:
    """Validate and upsert card holders from CSV (format: ecard.registry.csvformat)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ecard.registry.importer import RegistryImporter

    if not csv_file.is_file():
        click.echo(f"error: {csv_file} does not exist or is not a file", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if photos_dir is not None and not photos_dir.is_dir():
        click.echo(f"error: the photos folder {photos_dir} does not exist", err=True)
        sys.exit(EXIT_BAD_INPUT)
    p = ctx.platform
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("importing"), BarColumn(), DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=no_progress or not console.is_terminal, transient=True)
    task = progress.add_task("import", total=csv_file.stat().st_size, rows=0)

    def report(done: int, rows: int) -> None:
        progress.update(task, completed=done, rows=rows)

    importer = RegistryImporter(
        p.db, p.protector, p.clock, p.faces, ctx.actor, batch_size=batch_size,
        max_image_bytes=int(p.config.get("MAX_IMAGE_BYTES") or 5 * 1024 * 1024),
        progress=report)
    try:
        with progress:
            summary = importer.run(csv_file, photos_dir=photos_dir, rejects_path=rejects_path)
    except ImportAborted as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    _print_summary(summary)


def _print_summary(s: ImportSummary) -> None:
    click.echo(f"read       {s.read:>10,}")
    click.echo(f"inserted   {s.inserted:>10,}")
    click.echo(f"updated    {s.updated:>10,}")
    click.echo(f"unchanged  {s.unchanged:>10,}")
    click.echo(f"rejected   {s.rejected:>10,}")
    click.echo(f"photos     {s.photos_enrolled:>10,} enrolled")
    if s.status_changes:
        click.echo(f"statuses   {s.status_changes:>10,} card status changes applied")
    click.echo(f"elapsed    {s.elapsed_s:>10.1f} s ({s.rows_per_s:,.0f} rows/s)")
    if s.rejected:
        reasons = ", ".join(f"{code} {n}" for code, n in s.reasons.most_common())
        click.echo(f"{s.rejected:,} row(s) rejected ({reasons}); see {s.rejects_path}")
        for line, code, masked in s.examples:
            click.echo(f"  line {line}: {code}" + (f" ({masked})" if masked else ""))


@registry.command("set-status")
@click.argument("card_no")
@click.argument("status", type=click.Choice(["active", "lost", "cancelled", "replaced"]))
@click.option("--replaced-by", default=None, help="The new card number (status replaced).")
@pass_ctx
def set_status_cmd(ctx: Context, card_no: str, status: str, replaced_by: str | None) -> None:
    """Report a card lost or found, cancel it, or replace it; e-cards follow."""
    from ecard.registry.services import set_card_status
    p = ctx.platform
    try:
        with p.db.transaction() as session:
            change = set_card_status(session, p.clock, ctx.actor, card_no, status, replaced_by)
    except EcardError as exc:
        raise click.ClickException(_error_text(exc)) from exc
    line = f"card {mask_card_number(change.card_no)}: {change.old_status} -> {change.new_status}"
    if change.replaced_by:
        created = " (new card created)" if change.new_card_created else ""
        line += f", replaced by {mask_card_number(change.replaced_by)}{created}"
    click.echo(line)
    click.echo(f"e-cards affected: {len(change.ecards)}")
    for e in change.ecards:
        click.echo(f"  {e.sign_no} channel {e.channel_no}: {e.event} -> {e.status}")


@registry.command("show-card")
@click.argument("card_no")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def show_card_cmd(ctx: Context, card_no: str, as_json: bool) -> None:
    """Show a card and its holder, with personal data masked."""
    from ecard.registry.services import card_view
    p = ctx.platform
    try:
        with p.db.transaction() as session:
            view = card_view(session, p.protector, card_no)
    except EcardError as exc:
        raise click.ClickException(_error_text(exc)) from exc
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    _print_view(view)


def _print_view(view: dict[str, Any], indent: str = "") -> None:
    for key, value in view.items():
        if isinstance(value, dict):
            click.echo(f"{indent}{key}:" + ("" if value else " none"))
            _print_view(value, indent + "  ")
        else:
            click.echo(f"{indent}{key}: {'-' if value is None else value}")


@registry.command("generate")
@click.argument("n", type=click.IntRange(min=0))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True)
def generate_cmd(n: int, out: Path, seed: int) -> None:
    """Write N synthetic, valid card holders (no photos) to OUT.csv."""
    from ecard.registry.generator import write_registry
    try:
        write_registry(out, n, seed)
    except OSError as exc:
        click.echo(f"error: cannot write {out}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="N") from exc
    click.echo(f"wrote {n:,} persons to {out}")


@registry.command("reasons")
@click.option("--markdown", is_flag=True, help="Print a table for the README.")
def reasons_cmd(markdown: bool) -> None:
    """List the codes a rejected import row can carry."""
    from ecard.registry.csvformat import REASONS, reasons_markdown
    if markdown:
        click.echo(reasons_markdown())
        return
    for code, text in REASONS.items():
        click.echo(f"{code}: {text}")
