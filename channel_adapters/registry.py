"""Channel type → adapter: the one place the platform asks "what kind is this?".

| channel type            | adapter            |
|-------------------------|--------------------|
| ministry, government    | ``gov_app``        |
| bank                    | ``bank``           |
| partner, social         | ``payment_platform`` |
| medical                 | ``hospital``       |

Used by the notification outbox (``shape_notification``: each kind's payload, at
write time) and wherever attributes per scene are asked for by kind (delegating to
the one policy table in ``ecard.tokens.attributes``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from channel_adapters.bank import BankAdapter
from channel_adapters.gov_app import GovAppAdapter
from channel_adapters.hospital import HospitalAdapter
from channel_adapters.interfaces import ChannelAdapter
from channel_adapters.payment_platform import PaymentPlatformAdapter
from ecard.channels.models import CHANNEL_TYPES, Channel

ADAPTERS: tuple[ChannelAdapter, ...] = (GovAppAdapter(), BankAdapter(),
                                        PaymentPlatformAdapter(), HospitalAdapter())
BY_TYPE: dict[str, ChannelAdapter] = {t: a for a in ADAPTERS for t in a.channel_types}
BY_KIND: dict[str, ChannelAdapter] = {a.kind: a for a in ADAPTERS}

# every channel type has exactly one kind (checked at import: a new type needs a kind)
if set(BY_TYPE) != set(CHANNEL_TYPES) or \
        sum(len(a.channel_types) for a in ADAPTERS) != len(CHANNEL_TYPES):
    raise RuntimeError(f"channel kinds {sorted(BY_TYPE)} do not cover {CHANNEL_TYPES} once")


def adapter_for(channel_type: str) -> ChannelAdapter:
    try:
        return BY_TYPE[channel_type]
    except KeyError:
        raise KeyError(f"no channel adapter for channel type {channel_type!r}") from None


def attributes(channel_type: str, scene: str) -> frozenset[str]:
    return adapter_for(channel_type).attributes(channel_type, scene)


def shape_notification(session: Session, channel_no: str, event: str,
                       payload: dict[str, Any]) -> dict[str, Any]:
    """The payload shaped for the receiving channel's kind (unchanged for a channel
    that does not exist: the outbox's foreign key refuses it anyway)."""
    channel = session.get(Channel, channel_no)
    if channel is None:
        return payload
    return adapter_for(channel.type).shape_notification(session, channel_no, event, payload)
