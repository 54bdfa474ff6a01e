"""``ecard faces``: measure the face matcher. Needs no database and no master key."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("faces")
def faces() -> None:
    """The face matcher."""


@faces.command("evaluate")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def evaluate_cmd(manifest: Path) -> None:
    """Enrol the first photo of each identity in MANIFEST and match every other photo
    against every template at the shipped threshold; print one JSON object (far, frr,
    margin, false accepts and rejects). Progress goes to stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ecard.errors import EcardError
    from ecard.faces.evaluate import evaluate_manifest

    with Progress(TextColumn("encoding faces"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=path)

        try:
            report = evaluate_manifest(manifest, progress=progress)
        except (ValueError, KeyError, TypeError, EcardError) as exc:
            raise click.ClickException(f"cannot read manifest {manifest}: {exc}") from exc
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


def register(main: click.Group) -> None:
    main.add_command(faces)
