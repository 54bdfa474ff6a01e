"""``ecard operator``: the people who review appeals."""

from __future__ import annotations

import click

from ecard.cli import Context, pass_ctx
from ecard.errors import EcardError


@click.group("operator")
def operator() -> None:
    """Operators of the platform (appeal review)."""


@operator.command("add")
@click.argument("name")
@pass_ctx
def add_cmd(ctx: Context, name: str) -> None:
    """Create operator NAME and print its API token once (only its hash is kept)."""
    from ecard.operators.services import add_operator
    p = ctx.platform
    try:
        with p.db.transaction() as session:
            ref, token = add_operator(session, p.clock, name, ctx.actor)
    except EcardError as exc:
        raise click.ClickException(f"{exc.code}: {exc.to_dict('en')['message']}") from exc
    click.echo(f"operator {ref.name} (id {ref.id}) created; token (shown once):")
    click.echo(token)


@operator.command("disable")
@click.argument("name")
@pass_ctx
def disable_cmd(ctx: Context, name: str) -> None:
    """Disable operator NAME: its token stops working."""
    from ecard.operators.services import set_operator_status
    p = ctx.platform
    try:
        with p.db.transaction() as session:
            set_operator_status(session, p.clock, name, "disabled", ctx.actor)
    except EcardError as exc:
        raise click.ClickException(f"{exc.code}: no operator {name}") from exc
    click.echo(f"operator {name} disabled")


def register(main: click.Group) -> None:
    main.add_command(operator)
