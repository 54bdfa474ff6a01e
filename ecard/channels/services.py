"""Registering channels, their keys and their lifecycle (operator actions).

Every change writes an audit entry in the caller's transaction; the caller (CLI
command or view) owns the transaction. No Flask here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.channels.interfaces import TRANSITIONS, ChannelError
from ecard.channels.keys import check_kid, parse_public_key
from ecard.channels.models import CHANNEL_STATUSES, CHANNEL_TYPES, Channel, ChannelKey
from ecard.clock import Clock
from ecard.errors import ValidationFailed

CHANNEL_NO_RE = re.compile(r"[0-9]{10}")
INITIAL_STATUS = "applied"


def check_channel_no(channel_no: str) -> str:
    if not isinstance(channel_no, str) or not CHANNEL_NO_RE.fullmatch(channel_no):
        raise ChannelError("CHANNEL_NUMBER_INVALID", details={"channel_no": str(channel_no)})
    return channel_no


def _check_callback_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 512:
        raise ChannelError("CHANNEL_CALLBACK_URL_INVALID", details={"callback_url": url})
    return url


def get_channel(session: Session, channel_no: str, *, for_update: bool = False) -> Channel:
    stmt = select(Channel).where(Channel.channel_no == channel_no)
    if for_update:
        stmt = stmt.with_for_update()
    channel = session.scalars(stmt).one_or_none()
    if channel is None:
        raise ChannelError("CHANNEL_NOT_FOUND", details={"channel_no": channel_no})
    return channel


def list_channels(session: Session, *, status: str | None = None,
                  type: str | None = None) -> list[Channel]:
    stmt = select(Channel).order_by(Channel.channel_no)
    if status is not None:
        stmt = stmt.where(Channel.status == status)
    if type is not None:
        stmt = stmt.where(Channel.type == type)
    return list(session.scalars(stmt))


def list_keys(session: Session, channel_no: str) -> list[ChannelKey]:
    return list(session.scalars(select(ChannelKey).where(ChannelKey.channel_no == channel_no)
                                .order_by(ChannelKey.created_at, ChannelKey.id)))


def register_channel(session: Session, clock: Clock, actor: Actor, *, channel_no: str,
                     name: str, type: str, public_key: str, kid: str | None = None,
                     parent_no: str | None = None,
                     callback_url: str | None = None) -> Channel:
    """Register a channel in status ``applied`` with its first public key."""
    check_channel_no(channel_no)
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ValidationFailed(details={"fields": {"name": ["1 to 128 characters"]}})
    if type not in CHANNEL_TYPES:
        raise ChannelError("CHANNEL_TYPE_INVALID",
                           details={"type": type, "allowed": list(CHANNEL_TYPES)})
    if callback_url:
        _check_callback_url(callback_url)
    parsed = parse_public_key(public_key)
    kid = check_kid(kid) if kid else parsed.thumbprint_kid
    if session.get(Channel, channel_no) is not None:
        raise ChannelError("CHANNEL_EXISTS", details={"channel_no": channel_no})
    if parent_no is not None:
        parent = session.get(Channel, parent_no)
        if parent is None or parent.parent_no is not None:
            raise ChannelError("CHANNEL_PARENT_INVALID", details={"parent_no": parent_no})

    now = clock.now()
    channel = Channel(channel_no=channel_no, name=name, type=type, parent_no=parent_no,
                      status=INITIAL_STATUS, callback_url=callback_url or None,
                      created_at=now, updated_at=now)
    key = ChannelKey(channel_no=channel_no, kid=kid, public_pem=parsed.pem, status="active",
                     created_at=now)
    # No savepoint: a conflict fails the whole unit of work, which the caller rolls back.
    try:
        session.add(channel)
        session.flush()
        session.add(key)
        session.flush()
    except IntegrityError as exc:  # registered concurrently by another operator
        raise ChannelError("CHANNEL_EXISTS", details={"channel_no": channel_no}) from exc
    AuditLog(session, clock).record(actor, "channel.registered", channel_no=channel_no, details={
        "name": name, "type": type, "parent_no": parent_no, "status": INITIAL_STATUS,
        "callback_url": callback_url, "kid": kid})
    return channel


def add_key(session: Session, clock: Clock, actor: Actor, channel_no: str, public_key: str,
            kid: str | None = None) -> ChannelKey:
    """Add an active key (rotation: the channel signs with the new key, then the
    operator retires the old one)."""
    channel = get_channel(session, channel_no, for_update=True)
    parsed = parse_public_key(public_key)
    kid = check_kid(kid) if kid else parsed.thumbprint_kid
    exists = session.scalars(select(ChannelKey).where(
        ChannelKey.channel_no == channel.channel_no, ChannelKey.kid == kid)).first()
    if exists is not None:
        raise ChannelError("CHANNEL_KEY_EXISTS", details={"channel_no": channel_no, "kid": kid})
    key = ChannelKey(channel_no=channel_no, kid=kid, public_pem=parsed.pem, status="active",
                     created_at=clock.now())
    try:
        session.add(key)
        session.flush()
    except IntegrityError as exc:
        raise ChannelError("CHANNEL_KEY_EXISTS",
                           details={"channel_no": channel_no, "kid": kid}) from exc
    AuditLog(session, clock).record(actor, "channel.key_added", channel_no=channel_no,
                                    details={"kid": kid})
    return key


def retire_key(session: Session, clock: Clock, actor: Actor, channel_no: str,
               kid: str) -> ChannelKey:
    """Stop accepting tokens signed with this key (idempotent)."""
    get_channel(session, channel_no)
    key = session.scalars(select(ChannelKey).where(
        ChannelKey.channel_no == channel_no, ChannelKey.kid == kid)).first()
    if key is None:
        raise ChannelError("CHANNEL_KEY_NOT_FOUND", details={"channel_no": channel_no,
                                                             "kid": kid})
    if key.status != "retired":
        key.status = "retired"
        AuditLog(session, clock).record(actor, "channel.key_retired", channel_no=channel_no,
                                        details={"kid": kid})
    return key


def change_status(session: Session, clock: Clock, actor: Actor, channel_no: str,
                  status: str, *, reason: str | None = None) -> Channel:
    """Move a channel along its lifecycle (:data:`TRANSITIONS`)."""
    if status not in CHANNEL_STATUSES:
        raise ValidationFailed(details={"fields": {"status": [
            f"one of {', '.join(CHANNEL_STATUSES)}"]}})
    channel = get_channel(session, channel_no, for_update=True)
    before = channel.status
    if status not in TRANSITIONS[before]:
        raise ChannelError("CHANNEL_STATUS_TRANSITION_INVALID", details={
            "from": before, "to": status, "allowed": sorted(TRANSITIONS[before])})
    channel.status = status
    channel.updated_at = clock.now()
    AuditLog(session, clock).record(actor, "channel.status_changed", channel_no=channel_no,
                                    details={"from": before, "to": status, "reason": reason})
    return channel


def set_callback_url(session: Session, clock: Clock, actor: Actor, channel_no: str,
                     callback_url: str | None) -> tuple[Channel, int]:
    """Set (or, with ``None``, clear) where the channel's notifications go; returns the
    channel and how many of its pending notifications were made due now.

    The worker reads the URL when it claims a notification, so every pending one goes
    to the new address. Those backing off after failures at the old address are made
    due at once (their attempts count on; the dead-lettered stay dead until an
    operator redelivers them). Without a URL the channel's notifications wait, using
    no attempts, until one is set.
    """
    from ecard.notifications.models import Notification  # the outbox, not a dependency
    if callback_url is not None:
        _check_callback_url(callback_url)
    channel = get_channel(session, channel_no, for_update=True)
    before = channel.callback_url
    if before == callback_url:
        return channel, 0
    now = clock.now()
    channel.callback_url = callback_url
    channel.updated_at = now
    due = 0
    if callback_url is not None:
        result = session.execute(
            update(Notification).where(Notification.channel_no == channel_no,
                                       Notification.status == "pending",
                                       Notification.next_attempt_at > now)
            .values(next_attempt_at=now).execution_options(synchronize_session=False))
        due = int(getattr(result, "rowcount", 0) or 0)
    AuditLog(session, clock).record(actor, "channel.callback_url_changed",
                                    channel_no=channel_no, details={
                                        "from": before, "to": callback_url,
                                        "pending_made_due": due})
    return channel, due


def channel_summary(channel: Channel) -> dict[str, Any]:
    return {
        "channel_no": channel.channel_no, "name": channel.name, "type": channel.type,
        "level": channel.level, "parent_no": channel.parent_no, "status": channel.status,
        "callback_url": channel.callback_url,
    }
