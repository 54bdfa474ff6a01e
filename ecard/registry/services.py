"""Physical-card status changes and what they do to the holder's e-cards.

The e-card mirrors the physical card (DESIGN): a card reported lost suspends every
e-card bound to it, finding it again reinstates them, cancelling it revokes them, and
replacing it rebinds them to the new card. Each affected e-card's channel gets a
notification, and each change one audit entry, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.models import ECard
from ecard.clock import Clock
from ecard.errors import EcardError, NotFound
from ecard.notifications.services import enqueue_notification
from ecard.protect import DataProtector, mask_card_number, mask_phone
from ecard.registry.idnumber import IdentifierError, normalise_card_number
from ecard.registry.models import CARD_STATUSES, FaceTemplate, Person, PhysicalCard

# current status -> statuses it may change to; cancelled and replaced are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"lost", "cancelled", "replaced"}),
    "lost": frozenset({"active", "cancelled", "replaced"}),
    "cancelled": frozenset(),
    "replaced": frozenset(),
}

# Why the channel hears of the change (no personal data in a payload).
_REASONS = {
    ("lost", "suspended"): "card_lost",
    ("active", "active"): "card_found",
    ("cancelled", "revoked"): "card_cancelled",
    ("replaced", "active"): "card_replaced",
}
LIVE_ECARD_STATUSES = ("active", "suspended")


@dataclass(frozen=True)
class AffectedECard:
    sign_no: str
    channel_no: str
    event: str
    status: str


@dataclass(frozen=True)
class StatusChange:
    card_no: str
    person_id: int
    old_status: str
    new_status: str
    replaced_by: str | None
    new_card_created: bool
    ecards: list[AffectedECard] = field(default_factory=list)


def transition_allowed(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def _card_number(value: str, code: str = "CARD_NUMBER_INVALID") -> str:
    try:
        return normalise_card_number(value)
    except IdentifierError as exc:
        raise EcardError(code, details={"card_no": value}) from exc


def set_card_status(session: Session, clock: Clock, actor: Actor, card_no: str,
                    new_status: str, replaced_by: str | None = None) -> StatusChange:
    """Move a physical card to ``new_status`` and apply the rules to its e-cards.

    Every check runs before the first write, so an :class:`EcardError` leaves the
    session untouched (the importer relies on this to reject a row and go on).
    """
    card_no = _card_number(card_no)
    new_status = new_status.strip().lower()
    if new_status not in CARD_STATUSES:
        raise EcardError("VALIDATION_FAILED", details={
            "status": f"must be one of {', '.join(CARD_STATUSES)}"})
    if replaced_by and new_status != "replaced":
        raise EcardError("VALIDATION_FAILED", details={
            "replaced_by": "only a replaced card names its successor"})
    card = session.scalars(
        select(PhysicalCard).where(PhysicalCard.card_no == card_no).with_for_update()
    ).one_or_none()
    if card is None:
        raise NotFound("CARD_NOT_FOUND", details={"card_no": mask_card_number(card_no)})
    old_status = card.status
    if not transition_allowed(old_status, new_status):
        raise EcardError("CARD_STATUS_TRANSITION_INVALID",
                         details={"from": old_status, "to": new_status})
    successor: PhysicalCard | None = None
    new_no: str | None = None
    if new_status == "replaced":
        if not replaced_by:
            raise EcardError("REPLACEMENT_CARD_INVALID",
                             details={"replaced_by": "the new card number is required"})
        new_no = _card_number(replaced_by, "REPLACEMENT_CARD_INVALID")
        if new_no == card_no:
            raise EcardError("REPLACEMENT_CARD_INVALID",
                             details={"replaced_by": "a card cannot replace itself"})
        successor = session.scalars(
            select(PhysicalCard).where(PhysicalCard.card_no == new_no)).one_or_none()
        if successor is not None and successor.person_id != card.person_id:
            raise EcardError("REPLACEMENT_CARD_INVALID",
                             details={"replaced_by": "the card belongs to another person"})
        if successor is not None and successor.status != "active":
            raise EcardError("REPLACEMENT_CARD_INVALID",
                             details={"replaced_by": f"the card is {successor.status}"})

    # -- writes ----------------------------------------------------------------
    now = clock.now()
    created = False
    if new_status == "replaced" and successor is None:
        assert new_no is not None
        successor = PhysicalCard(
            card_no=new_no, person_id=card.person_id, region=card.region,
            generation=card.generation, bank_code=card.bank_code,
            bank_account_enc=card.bank_account_enc,
            reserved_phone_enc=card.reserved_phone_enc, status="active", updated_at=now)
        session.add(successor)
        session.flush()
        created = True
    card.status = new_status
    card.replaced_by = new_no
    card.updated_at = now

    ecards = session.scalars(
        select(ECard).where(ECard.card_id == card.id,
                            ECard.status.in_(LIVE_ECARD_STATUSES))
        .order_by(ECard.id).with_for_update()).all()
    affected: list[AffectedECard] = []
    for ecard in ecards:
        event, status = _ecard_effect(old_status, new_status, ecard.status)
        if event is None:
            continue
        ecard.status = status
        ecard.updated_at = now
        if new_status == "replaced":
            assert successor is not None
            ecard.card_id = successor.id
        payload: dict[str, Any] = {"sign_no": ecard.sign_no, "status": status,
                                   "reason": _REASONS[(new_status, status)]}
        enqueue_notification(session, clock, ecard.channel_no, ecard.sign_no, event, payload)
        affected.append(AffectedECard(ecard.sign_no, ecard.channel_no, event, status))
    session.flush()
    AuditLog(session, clock).record(
        actor, "registry.card_status_changed", subject=f"person:{card.person_id}",
        details={"card": mask_card_number(card_no), "from": old_status, "to": new_status,
                 "replaced_by": mask_card_number(new_no) if new_no else None,
                 "new_card_created": created,
                 "ecards": {a.sign_no: a.event for a in affected}})
    return StatusChange(card_no, card.person_id, old_status, new_status, new_no, created,
                        affected)


def _ecard_effect(old: str, new: str, ecard_status: str) -> tuple[str | None, str]:
    """(event, new e-card status) for one live e-card; event None = untouched."""
    if new == "lost":
        return ("suspended", "suspended") if ecard_status == "active" else (None, ecard_status)
    if new == "active":  # found again
        return ("reinstated", "active") if ecard_status == "suspended" else (None, ecard_status)
    if new == "cancelled":
        return "revoked", "revoked"
    return "rebound", "active"  # replaced: bound to the new card, usable again


def card_view(session: Session, protector: DataProtector, card_no: str) -> dict[str, Any]:
    """What an operator may see of a card: masked personal data, counts of e-cards."""
    card_no = _card_number(card_no)
    card = session.scalars(
        select(PhysicalCard).where(PhysicalCard.card_no == card_no)).one_or_none()
    if card is None:
        raise NotFound("CARD_NOT_FOUND", details={"card_no": mask_card_number(card_no)})
    person = session.get(Person, card.person_id)
    assert person is not None
    account = (protector.decrypt_str(card.bank_account_enc, "card.bank_account")
               if card.bank_account_enc else None)
    phone = (protector.decrypt_str(card.reserved_phone_enc, "card.reserved_phone")
             if card.reserved_phone_enc else None)
    ecards: dict[str, int] = {}
    for status in session.scalars(select(ECard.status).where(ECard.card_id == card.id)):
        ecards[status] = ecards.get(status, 0) + 1
    other_cards = session.scalars(
        select(PhysicalCard).where(PhysicalCard.person_id == person.id,
                                   PhysicalCard.id != card.id)
        .order_by(PhysicalCard.id)).all()
    return {
        "card_no": mask_card_number(card.card_no),
        "status": card.status,
        "replaced_by": mask_card_number(card.replaced_by) if card.replaced_by else None,
        "region": card.region,
        "generation": card.generation,
        "bank_code": card.bank_code,
        "bank_account": ("*" * 4 + account[-4:]) if account else None,
        "reserved_phone": mask_phone(phone) if phone else None,
        "holder": {
            "id_number": person.id_masked,
            "name": person.name_masked,
            "gender": {"1": "male", "2": "female"}.get(person.gender, person.gender),
            "birth_year": person.birth_date.year,
            "enrolment_photo": session.get(FaceTemplate, person.id) is not None,
        },
        "other_cards": {mask_card_number(c.card_no): c.status for c in other_cards},
        "ecards": ecards,
        "updated_at": card.updated_at.isoformat(),
    }
