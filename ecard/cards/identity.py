"""Real name: the registry check behind a level-1 issuance.

The ID number finds the person through its blind index; the name and card number
must then match the registry. A mismatch never says which field was wrong (that would
let a caller probe the registry one field at a time). Real person (a live face that
matches the enrolment photo) is a passed liveness session: ``ecard.certification``.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.clock import Clock
from ecard.errors import EcardError
from ecard.protect import DataProtector
from ecard.registry.idnumber import IdentifierError, normalise_card_number, parse_id_number
from ecard.registry.models import Person, PhysicalCard


def normalise_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Identified:
    person: Person
    card: PhysicalCard
    id_number: str  # the normalised ID number, kept only for the PIN rules


def check_id_number(value: str, clock: Clock) -> str:
    try:
        return parse_id_number(value, today=clock.now().date()).number
    except IdentifierError as exc:
        raise EcardError("ID_NUMBER_INVALID", details={"reason": exc.code}) from exc


def check_card_number(value: str) -> str:
    try:
        return normalise_card_number(value)
    except IdentifierError as exc:
        raise EcardError("CARD_NUMBER_INVALID") from exc


def identify(session: Session, protector: DataProtector, clock: Clock, *, name: str,
             id_number: str, card_no: str) -> Identified:
    """The person and their current, active card, or the refusal that applies:
    ``ID_NUMBER_INVALID``, ``CARD_NUMBER_INVALID``, ``PERSON_NOT_FOUND``,
    ``IDENTITY_MISMATCH`` or ``CARD_NOT_ACTIVE``."""
    number = check_id_number(id_number, clock)
    card_no = check_card_number(card_no)
    person = session.scalars(
        select(Person).where(Person.id_index == protector.blind_index(number))
    ).one_or_none()
    if person is None:
        raise EcardError("PERSON_NOT_FOUND")
    registered_name = protector.decrypt_str(person.name_enc, "person.name")
    card = session.scalars(
        select(PhysicalCard).where(PhysicalCard.card_no == card_no,
                                   PhysicalCard.person_id == person.id)
    ).one_or_none()
    name_ok = _same(normalise_name(registered_name), normalise_name(name))
    # A replaced card is no longer the person's card: the number must be the current one.
    if not name_ok or card is None or card.status == "replaced":
        raise EcardError("IDENTITY_MISMATCH")
    if card.status != "active":
        raise EcardError("CARD_NOT_ACTIVE", details={"card_status": card.status})
    return Identified(person, card, number)


def current_card(session: Session, person_id: int) -> PhysicalCard | None:
    """The person's card that has not been replaced (the newest if several)."""
    return session.scalars(
        select(PhysicalCard).where(PhysicalCard.person_id == person_id,
                                   PhysicalCard.status != "replaced")
        .order_by(PhysicalCard.id.desc())
    ).first()
