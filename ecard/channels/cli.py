"""``ecard channel``: register channels, manage their keys and lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from ecard.channels.models import CHANNEL_STATUSES, CHANNEL_TYPES, Channel
from ecard.cli import Context, pass_ctx
from ecard.errors import CATALOGUE, EcardError


def _message(exc: EcardError) -> str:
    text = exc.override_message or CATALOGUE[exc.code].en
    details = exc.details
    if isinstance(details, dict):
        extra = ", ".join(f"{k}={v}" for k, v in details.items() if v not in (None, ""))
        if extra:
            text = f"{text} ({extra})"
    return f"{exc.code}: {text}"


@contextmanager
def _transaction(ctx: Context) -> Iterator[Session]:
    """The platform's transaction; catalogue errors end the command with their message."""
    try:
        with ctx.platform.db.transaction() as session:
            yield session
    except EcardError as exc:
        raise click.ClickException(_message(exc)) from exc


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the public key file {path}: {exc}") from exc


def _echo_channel(channel: Channel, keys: list[Any] | None = None) -> None:
    click.echo(f"channel   {channel.channel_no}")
    click.echo(f"name      {channel.name}")
    click.echo(f"type      {channel.type}")
    parent = f" (under {channel.parent_no})" if channel.parent_no else " (direct)"
    click.echo(f"level     {channel.level}{parent}")
    click.echo(f"status    {channel.status}")
    click.echo(f"callback  {channel.callback_url or '-'}")
    for key in keys or []:
        click.echo(f"key       {key.kid}  {key.status:<8} added {key.created_at:%Y-%m-%d %H:%M}")


@click.group("channel")
def channel() -> None:
    """Channels: the apps, banks and hospitals that call the platform."""


key_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@channel.command("add")
@click.option("--number", "channel_no", required=True, help="10-digit channel number.")
@click.option("--name", required=True)
@click.option("--type", "type_", required=True, type=click.Choice(CHANNEL_TYPES))
@click.option("--parent", "parent_no", help="Parent channel number (second-level channel).")
@click.option("--callback-url", help="http(s) address for signed notifications.")
@click.option("--public-key", "public_key", required=True, type=key_file,
              help="The channel's EC P-256 public key: PEM or JWK (JSON) file.")
@click.option("--kid", help="Key id; defaults to the key's RFC 7638 thumbprint.")
@pass_ctx
def add(ctx: Context, channel_no: str, name: str, type_: str, parent_no: str | None,
        callback_url: str | None, public_key: Path, kid: str | None) -> None:
    """Register a channel (status: applied) with its first public key."""
    from ecard.channels.services import list_keys, register_channel

    pem = _read_key(public_key)
    with _transaction(ctx) as session:
        created = register_channel(
            session, ctx.platform.clock, ctx.actor, channel_no=channel_no, name=name,
            type=type_, public_key=pem, kid=kid, parent_no=parent_no,
            callback_url=callback_url)
        _echo_channel(created, list_keys(session, channel_no))


@channel.command("list")
@click.option("--status", type=click.Choice(CHANNEL_STATUSES))
@click.option("--type", "type_", type=click.Choice(CHANNEL_TYPES))
@pass_ctx
def list_(ctx: Context, status: str | None, type_: str | None) -> None:
    """List channels."""
    from ecard.channels.services import list_channels

    with _transaction(ctx) as session:
        rows = list_channels(session, status=status, type=type_)
        if not rows:
            click.echo("no channels")
        for row in rows:
            parent = row.parent_no or "-"
            click.echo(f"{row.channel_no}  {row.status:<9}  {row.type:<10}  L{row.level}  "
                       f"parent {parent:<10}  {row.name}")


@channel.command("show")
@click.argument("channel_no", metavar="NUMBER")
@pass_ctx
def show(ctx: Context, channel_no: str) -> None:
    """Show one channel and its keys."""
    from ecard.channels.services import get_channel, list_keys

    with _transaction(ctx) as session:
        _echo_channel(get_channel(session, channel_no), list_keys(session, channel_no))


@channel.command("set-status")
@click.argument("channel_no", metavar="NUMBER")
@click.argument("status", type=click.Choice(CHANNEL_STATUSES))
@click.option("--reason", help="Recorded in the audit log.")
@pass_ctx
def set_status(ctx: Context, channel_no: str, status: str, reason: str | None) -> None:
    """Move a channel along applied → testing → online ⇄ suspended → exited."""
    from ecard.channels.services import change_status

    with _transaction(ctx) as session:
        before = _status_of(session, channel_no)
        changed = change_status(session, ctx.platform.clock, ctx.actor, channel_no, status,
                                reason=reason)
        click.echo(f"{changed.channel_no}: {before} -> {changed.status}")
    if status == "suspended":
        click.echo("calls from this channel are refused within 5 seconds on every server")


def _status_of(session: Session, channel_no: str) -> str:
    from ecard.channels.services import get_channel

    return get_channel(session, channel_no).status


@channel.command("set-callback")
@click.argument("channel_no", metavar="NUMBER")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Remove the callback URL: notifications wait.")
@pass_ctx
def set_callback(ctx: Context, channel_no: str, url: str | None, clear: bool) -> None:
    """Set the http(s) address of the channel's signed notifications (or --clear it);
    its pending notifications go to the new address, those backing off at once."""
    from ecard.channels.services import set_callback_url

    if clear == (url is not None):
        raise click.UsageError("give either a URL or --clear")
    with _transaction(ctx) as session:
        changed, due = set_callback_url(session, ctx.platform.clock, ctx.actor, channel_no,
                                        None if clear else url)
        click.echo(f"{changed.channel_no}: callback {changed.callback_url or '-'}")
    if due:
        click.echo(f"{due} pending notification(s) will be tried at the new address now")
    elif clear:
        click.echo("notifications wait (pending, no attempts used) until a URL is set")


@channel.command("add-key")
@click.argument("channel_no", metavar="NUMBER")
@click.argument("public_key", metavar="FILE", type=key_file)
@click.option("--kid", help="Key id; defaults to the key's RFC 7638 thumbprint.")
@pass_ctx
def add_key_cmd(ctx: Context, channel_no: str, public_key: Path, kid: str | None) -> None:
    """Add a public key (rotation: sign with it, then retire the old one)."""
    from ecard.channels.services import add_key

    pem = _read_key(public_key)
    with _transaction(ctx) as session:
        key = add_key(session, ctx.platform.clock, ctx.actor, channel_no, pem, kid)
        click.echo(f"{channel_no}: key added kid={key.kid}")


@channel.command("retire-key")
@click.argument("channel_no", metavar="NUMBER")
@click.argument("kid")
@pass_ctx
def retire_key_cmd(ctx: Context, channel_no: str, kid: str) -> None:
    """Stop accepting tokens signed with this key (within 30 seconds on every server)."""
    from ecard.channels.services import retire_key

    with _transaction(ctx) as session:
        key = retire_key(session, ctx.platform.clock, ctx.actor, channel_no, kid)
        click.echo(f"{channel_no}: key {key.kid} retired")


def register(main: click.Group) -> None:
    main.add_command(channel)
