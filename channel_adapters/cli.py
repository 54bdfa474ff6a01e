"""``ecard payouts``: pension payout files for banks (see ``payoutfile.py``)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import click

from channel_adapters.interfaces import PayoutFileInvalid
from channel_adapters.payoutfile import read_payout_file
from channel_adapters.payouts import PayoutExporter
from ecard.cli import Context, iso_day, pass_ctx
from ecard.errors import EcardError


@click.group()
def payouts() -> None:
    """Pension payout instructions for banks (suspend, reinstate, back-pay, stop)."""


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only (the file holds account numbers and names); replaced atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@payouts.command("export")
@click.option("--bank", "bank_code", required=True, help="The bank code (e.g. ICBC).")
@click.option("--date", "day", required=True, callback=iso_day,
              help="Business day, YYYY-MM-DD (China Standard Time).")
@click.option("--out", "out", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for <file>.txt and <file>.txt.sig.")
@pass_ctx
def export(ctx: Context, bank_code: str, day: date, out: Path) -> None:
    """Write the day's payout file and its signature; the same day again gives the
    same file (same batch number)."""
    platform = ctx.platform
    try:
        batch = PayoutExporter(platform.db, platform.protector, platform.keyring,
                               platform.clock, ctx.actor).export(bank_code, day)
    except EcardError as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    _write_private(out / batch.file_name, batch.data)
    _write_private(out / (batch.file_name + ".sig"), (batch.signature + "\n").encode())
    state = "written" if batch.created else "unchanged (exported before)"
    click.echo(f"{out / batch.file_name}: batch {batch.batch_no:06d}, {batch.record_count} "
               f"records, control sum {batch.control_sum_fen} fen; {state}")


@payouts.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", "bank_code", default=None, help="Expect this bank code.")
@click.option("--jwks", "jwks_path", type=click.Path(exists=True, path_type=Path),
              default=None, help="The platform's JWKS (default: this platform's keys).")
@pass_ctx
def verify(ctx: Context, file: Path, bank_code: str | None, jwks_path: Path | None) -> None:
    """Check a payout file as the bank does (format, count, control sum, digest,
    signature in FILE.sig); exits 1 naming the first broken rule."""
    jwks = json.loads(jwks_path.read_text()) if jwks_path else ctx.platform.keyring.jwks()
    sig = file.with_name(file.name + ".sig")
    signature = sig.read_text().strip() if sig.exists() else None
    try:
        payout = read_payout_file(file.read_bytes(), signature, jwks=jwks,
                                  bank_code=bank_code, name=file.name)
    except PayoutFileInvalid as exc:
        raise click.ClickException(f"{file.name}: {exc}") from exc
    click.echo(f"{file.name}: valid; bank {payout.bank_code}, day {payout.business_day}, "
               f"batch {payout.batch_no:06d}, {payout.record_count} records, control sum "
               f"{payout.control_sum_fen} fen")


def register(main: click.Group) -> None:
    main.add_command(payouts)
