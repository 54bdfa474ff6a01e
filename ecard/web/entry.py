"""One H5 entry for government apps: the holder signed on through the app
(``POST /api/v1/h5/sso``, ``channel_adapters.gov_app``) sees their pension
certification on the H5 home and starts it there, without the app's server in the
loop. No Flask here: the views pass the database session and the H5 session.

Starting is the certification service's own ``start`` for the session's channel and
sign number (the same checks as the channel API: an active e-card, an enrolment
photo, a pension recipient), then a fresh link token of :class:`H5Service` for it;
the page goes on to ``/h5/certify/<id>#t=<token>`` as for a channel's link. The
channel must still be a government app that may call: an H5 session outlives neither
a suspension nor a change of type.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from channel_adapters.gov_app import TYPES, H5Session
from ecard.cards.models import ECard
from ecard.certification.models import ENTITLEMENT
from ecard.certification.prompts import ELDER, STANDARD
from ecard.certification.services import CertificationService, StartRequest
from ecard.channels.interfaces import CALLABLE_STATUSES
from ecard.channels.models import Channel
from ecard.errors import EcardError
from ecard.registry.models import Person
from ecard.web.services import H5Service, Link

MODES = (STANDARD, ELDER)


@dataclass(frozen=True)
class HolderEntry:
    """What the H5 home shows a signed-on holder (the masked name only)."""

    name_masked: str | None


def holder_entry(session: Session, h5: H5Session) -> HolderEntry | None:
    """The holder's entry, or ``None`` when the session no longer leads anywhere
    (the e-card unlinked, the channel suspended): the home then shows the plain page."""
    if not _channel_may_call(session, h5.channel_no):
        return None
    ecard = _active_ecard(session, h5)
    if ecard is None:
        return None
    person = session.get(Person, ecard.person_id)
    return HolderEntry(name_masked=None if person is None else person.name_masked)


def start_certification(session: Session, certification: CertificationService,
                        links: H5Service, h5: H5Session, mode: str) -> Link:
    """An entitlement session for the signed-on holder in ``mode``, and its page link."""
    if mode not in MODES:
        raise EcardError("VALIDATION_FAILED", details={"mode": f"one of {', '.join(MODES)}"})
    if not _channel_may_call(session, h5.channel_no):
        raise EcardError("H5_SESSION_INVALID")
    started = certification.start(session, h5.channel_no, StartRequest(
        mode=mode, purpose=ENTITLEMENT, sign_no=h5.sign_no))
    return links.create_link(session, h5.channel_no, str(started["session_id"]),
                             return_url=None)


def _channel_may_call(session: Session, channel_no: str) -> bool:
    channel = session.get(Channel, channel_no)
    return channel is not None and channel.type in TYPES and \
        channel.status in CALLABLE_STATUSES


def _active_ecard(session: Session, h5: H5Session) -> ECard | None:
    found: ECard | None = session.scalars(select(ECard).where(
        ECard.sign_no == h5.sign_no, ECard.channel_no == h5.channel_no,
        ECard.openid == h5.openid, ECard.status == "active")).one_or_none()
    return found
