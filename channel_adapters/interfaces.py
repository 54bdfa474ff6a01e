"""One interface for every channel kind, and the errors the adapters raise.

A *kind* groups channel types that integrate the same way: ``gov_app`` (ministry
and government apps), ``bank``, ``payment_platform`` (signed partners and social
platforms), ``hospital`` (medical acquirers). Each kind answers the same questions:
which attributes its channels may receive per scene (delegated to
:mod:`ecard.tokens.attributes`, the one table of the policy), and how a
notification to one of its channels is shaped. What only one kind does (bank
payout files, platform user ids, settlement splits, single sign-on) lives on that
kind's class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ecard.errors import AuthError, EcardError

if TYPE_CHECKING:  # the bank-side reader imports this module without a database stack
    from sqlalchemy.orm import Session


@runtime_checkable
class ChannelAdapter(Protocol):
    #: the kind's name (``bank``, ``payment_platform``, ``hospital``, ``gov_app``)
    kind: str
    #: the channel types (``ecard.channels.models.CHANNEL_TYPES``) of this kind
    channel_types: frozenset[str]

    def attributes(self, channel_type: str, scene: str) -> frozenset[str]:
        """What a channel of ``channel_type`` may receive from an identity code in
        ``scene``; raises ``SCENE_INVALID`` for an unknown scene."""
        ...

    def shape_notification(self, session: Session, channel_no: str, event: str,
                           payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as this kind receives it (called once, when the notification
        is written, so every delivery attempt carries the same body). Never adds
        personal data."""
        ...


class AdapterError(EcardError):
    """A channel-adapter operation was refused (a catalogue code says which)."""


class TicketInvalid(AuthError):
    """A government-app sign-on ticket failed: one opaque error whatever check
    failed (signature, time, audience, channel, holder, second use)."""

    default_code = "H5_TICKET_INVALID"


class SessionInvalid(AuthError):
    default_code = "H5_SESSION_INVALID"


class SettlementInvalid(AdapterError):
    default_code = "MEDICAL_SETTLEMENT_INVALID"


class PayoutError(AdapterError):
    default_code = "PAYOUT_BANK_INVALID"


class BankError(AdapterError):
    """The bank did not accept a request: ``BANK_UNAVAILABLE`` after the retries
    (network, 5xx, 409 in progress) or ``BANK_REFUSED`` (a 4xx answer)."""

    default_code = "BANK_UNAVAILABLE"


class PayoutFileInvalid(Exception):
    """A payout file (or its signature) failed validation on the bank's side; the
    message says which line and which rule."""
