"""``ecard``: the operator's command line.

Each domain adds its own group (``ecard registry``, ``ecard channel`` ...) from its
``cli.py``; this module holds the platform-wide commands and wires the groups.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from ecard.audit.services import Actor
from ecard.config import load_config


class Context:
    """Builds the platform lazily so ``ecard init`` runs before any key exists."""

    def __init__(self) -> None:
        self.config = load_config()
        self._platform: Any = None

    @property
    def platform(self) -> Any:
        if self._platform is None:
            from ecard.platform import Platform
            from ecard.protect import MasterKeyMissing
            try:
                self._platform = Platform.build(self.config)
            except MasterKeyMissing as exc:
                raise click.ClickException(str(exc)) from exc
        return self._platform

    @property
    def actor(self) -> Actor:
        return Actor("operator", os.environ.get("ECARD_OPERATOR") or os.environ.get("USER")
                     or "operator")


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def iso_day(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    """Option callback: a ``YYYY-MM-DD`` day (``--date`` of the statement and payout
    commands)."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD") from exc


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Operate the ecard platform."""
    ctx.obj = Context()


@main.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create the instance folder, the master key, the schema and a signing key."""
    from ecard.migrations import upgrade
    from ecard.protect import write_master_key

    instance = Path(ctx.config["INSTANCE_DIR"])
    if not ctx.config.get("MASTER_KEY"):
        path = write_master_key(instance)
        click.echo(f"master key: {path} (keep it secret; it is git-ignored)")
    upgrade(ctx.config["DATABASE_URL"])
    platform = ctx.platform
    from sqlalchemy import select

    from ecard.tokens.models import SigningKey
    from ecard.tokens.services import create_signing_key
    with platform.db.transaction() as session:
        active = session.scalars(select(SigningKey).where(SigningKey.status == "active")).first()
        if active is None:
            key = create_signing_key(session, platform.protector, platform.clock, ctx.actor)
            click.echo(f"signing key created: kid={key.kid}")
        else:
            click.echo(f"signing key present: kid={active.kid}")
    click.echo(f"database ready: {_safe_url(ctx.config['DATABASE_URL'])}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, envvar="ECARD_PORT", default=8000, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--access-log/--no-access-log", default=False)
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the API under gunicorn."""
    from ecard.serve import serve as run_server
    base = f"http://{host}:{port}"
    click.echo(f"ecard API on {base}  (Swagger UI {base}/api/docs, spec {base}/api/openapi.json,"
               f" JWKS {base}/.well-known/jwks.json)")
    run_server(host, port, workers, access_log=access_log)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply every migration up to the newest."""
    from ecard.migrations import upgrade
    upgrade(ctx.config["DATABASE_URL"])
    click.echo("schema is at the newest revision")


@main.group()
def keys() -> None:
    """The platform's signing keys."""


@keys.command("rotate")
@pass_ctx
def keys_rotate(ctx: Context) -> None:
    """Add a new active key; the old one keeps verifying until retired."""
    from ecard.tokens.services import create_signing_key
    p = ctx.platform
    with p.db.transaction() as session:
        key = create_signing_key(session, p.protector, p.clock, ctx.actor)
    click.echo(f"new active key: kid={key.kid}")


@keys.command("retire")
@click.argument("kid")
@pass_ctx
def keys_retire(ctx: Context, kid: str) -> None:
    """Remove a former key from the JWKS: what it signed stops verifying."""
    from ecard.errors import EcardError
    from ecard.tokens.services import retire_signing_key
    p = ctx.platform
    try:
        with p.db.transaction() as session:
            retire_signing_key(session, kid, p.clock, ctx.actor)
    except EcardError as exc:
        raise click.ClickException(exc.override_message or exc.to_dict("en")["message"]) from exc
    click.echo(f"retired: kid={kid}")


@keys.command("list")
@pass_ctx
def keys_list(ctx: Context) -> None:
    """List signing keys and their status."""
    from sqlalchemy import select

    from ecard.tokens.models import SigningKey
    with ctx.platform.db.transaction() as session:
        for key in session.scalars(select(SigningKey).order_by(SigningKey.created_at)):
            click.echo(f"{key.kid}  {key.status:<9}  created {key.created_at:%Y-%m-%d %H:%M}")


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check every entry's hash chain; exit 1 if any row was edited or deleted."""
    from ecard.audit.services import verify_chain
    with ctx.platform.db.session() as session:
        report = verify_chain(session)
    if report.ok:
        click.echo(f"audit log intact: {report.entries} entries")
        return
    for problem in report.problems:
        click.echo(f"BROKEN: {problem}", err=True)
    sys.exit(1)


@main.command("errors")
@click.option("--markdown", is_flag=True, help="Print the README table.")
def errors_cmd(markdown: bool) -> None:
    """List the error catalogue."""
    from ecard.errors import CATALOGUE, catalogue_markdown
    if markdown:
        click.echo(catalogue_markdown())
        return
    for code, spec in CATALOGUE.items():
        click.echo(f"{spec.status} {code}: {spec.en}")


def _register_domain_commands() -> None:
    from ecard.cli_domains import register
    register(main)


_register_domain_commands()


@main.group()
def demo() -> None:
    """Demo data for `make run`."""


@demo.command("load")
@pass_ctx
def demo_load(ctx: Context) -> None:
    """Load the demo registry and the demo channels (safe to run again)."""
    from ecard.demo import demo_identities, load_demo_channels, load_demo_registry
    summary = load_demo_registry(ctx.platform, ctx.actor)
    click.echo(f"demo registry: {summary.counts()}")
    for channel, key_path in load_demo_channels(ctx.platform, ctx.actor):
        click.echo(f"demo channel {channel.channel_no} ({channel.type}, online): "
                   f"private key {key_path}")
    click.echo("demo identities (fictional people; photos from samples/demo/faces):")
    for person in demo_identities():
        click.echo(f"  {person['name']}  ID {person['id_number']}  card {person['card_no']}"
                   f"  ({person['card_status']}{', enrolment photo' if person['photo'] else ''})")
    click.echo("try it: uv run python samples/demo/try_issue.py")

