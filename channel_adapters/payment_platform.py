"""Payment platforms (channel types ``partner`` and ``social``): their own user ids,
and how a payment made with one of their users' e-cards is told to them.

User ids. A platform knows its user by its own id (e.g. ``2088…``); we know the
holder in that channel by ``openid``. ``link_user`` records the pair once the
platform has claimed the e-card (``PUT /api/v1/channel-users/{sign_no}``); both sides
are unique within the channel, so one platform user maps to one holder and back,
and a second, different pairing is refused (``CHANNEL_USER_ID_TAKEN``) instead of
silently moving a user. Linking the same pair again is a no-op.

Payment notices. ``payment_captured`` and ``payment_refunded`` go through the signed
callback outbox like every notification (``Ecard-Signature``, at least once, in order
per e-card). For this kind the ``data`` of the body is shaped as the platform's
trade notice::

    {"notice": "trade", "trade_status": "SUCCESS" | "REFUND", "user_id": "2088…",
     "openid": "…", "payment_id": "P…", "merchant_no": "…", "order_id": "…",
     "scene": "02", "currency": "CNY", "total_fen": 1234, "total_yuan": "12.34",
     "refunded_fen": 0, "refund_id": null, "refund_fen": null, "occurred_at": "…"}

``user_id`` is null while the platform has not linked its user. Amounts are integer
fen; ``total_yuan`` is the same amount written as yuan with two decimals, never a
float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channel_adapters.interfaces import AdapterError
from channel_adapters.models import ChannelUserLink
from ecard.cards.models import ECard
from ecard.clock import Clock
from ecard.tokens.attributes import check_scene, entitlement

USER_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
PAYMENT_EVENTS = {"payment_captured": "SUCCESS", "payment_refunded": "REFUND"}
TYPES = frozenset({"partner", "social"})


def yuan(fen: int) -> str:
    """``1234`` → ``"12.34"``; ``-5`` → ``"-0.05"`` (integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass(frozen=True)
class UserLink:
    channel_no: str
    user_id: str
    openid: str
    sign_no: str


class PaymentPlatformAdapter:
    kind = "payment_platform"
    channel_types = TYPES

    def attributes(self, channel_type: str, scene: str) -> frozenset[str]:
        return entitlement(channel_type, check_scene(scene))

    def shape_notification(self, session: Session, channel_no: str, event: str,
                           payload: dict[str, Any]) -> dict[str, Any]:
        openid = payload.get("openid")
        user_id = user_id_for(session, channel_no, openid) if isinstance(openid, str) else None
        if event not in PAYMENT_EVENTS:
            return {**payload, "user_id": user_id}
        return {
            "notice": "trade", "trade_status": PAYMENT_EVENTS[event], "user_id": user_id,
            "openid": openid, "sign_no": payload.get("sign_no"),
            "payment_id": payload["payment_id"], "merchant_no": payload["merchant_no"],
            "order_id": payload["order_id"], "scene": payload["scene"],
            "currency": payload["currency"], "total_fen": payload["amount_fen"],
            "total_yuan": yuan(int(payload["amount_fen"])),
            "refunded_fen": payload["refunded_fen"],
            "refund_id": payload.get("refund_id"), "refund_fen": payload.get("refund_fen"),
            "occurred_at": payload.get("occurred_at")}

    # -- user ids ----------------------------------------------------------------
    def link_user(self, session: Session, clock: Clock, channel_no: str, channel_type: str,
                  sign_no: str, user_id: str) -> tuple[UserLink, bool]:
        """Pair the platform's ``user_id`` with the holder of ``sign_no`` in this
        channel; ``(link, created)``."""
        if channel_type not in TYPES:
            raise AdapterError("CHANNEL_NOT_PAYMENT_PLATFORM",
                               details={"channel_type": channel_type})
        if not isinstance(user_id, str) or not USER_ID_RE.fullmatch(user_id):
            raise AdapterError("CHANNEL_USER_ID_INVALID")
        ecard = session.scalars(select(ECard).where(
            ECard.sign_no == sign_no, ECard.channel_no == channel_no)).one_or_none()
        if ecard is None or ecard.status not in ("active", "suspended"):
            raise AdapterError("ECARD_NOT_FOUND")
        rows = session.scalars(select(ChannelUserLink).where(
            ChannelUserLink.channel_no == channel_no,
            (ChannelUserLink.user_id == user_id) | (ChannelUserLink.openid == ecard.openid))
        ).all()
        for row in rows:
            if row.user_id == user_id and row.openid == ecard.openid:
                return UserLink(channel_no, user_id, ecard.openid, sign_no), False
        if rows:
            raise AdapterError("CHANNEL_USER_ID_TAKEN")
        from ecard.payments.ledger import insert_ignore  # the unique keys decide a race
        if not insert_ignore(session, ChannelUserLink, {
                "channel_no": channel_no, "user_id": user_id, "openid": ecard.openid,
                "created_at": clock.now()}):
            raise AdapterError("CHANNEL_USER_ID_TAKEN")
        return UserLink(channel_no, user_id, ecard.openid, sign_no), True


def user_id_for(session: Session, channel_no: str, openid: str) -> str | None:
    found: str | None = session.scalars(select(ChannelUserLink.user_id).where(
        ChannelUserLink.channel_no == channel_no, ChannelUserLink.openid == openid)).first()
    return found


def openid_for(session: Session, channel_no: str, user_id: str) -> str | None:
    found: str | None = session.scalars(select(ChannelUserLink.openid).where(
        ChannelUserLink.channel_no == channel_no, ChannelUserLink.user_id == user_id)).first()
    return found
