"""Real name and real person: the registry checks behind a level-1 issuance.

Real name: the ID number finds the person through its blind index; the name and
card number must then match the registry. A mismatch never says which field was
wrong (that would let a caller probe the registry one field at a time).

Real person: one face in the uploaded image, matched to the enrolment template
under the scene's threshold; the distance is the recorded score.
"""

from __future__ import annotations

import hmac
import logging
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.clock import Clock
from ecard.errors import EcardError
from ecard.faces.images import decode_base64_image, load_rgb
from ecard.faces.interfaces import FaceEngine
from ecard.faces.services import encoding_from_bytes, match, single_face
from ecard.protect import DataProtector
from ecard.registry.idnumber import IdentifierError, normalise_card_number, parse_id_number
from ecard.registry.models import FaceTemplate, Person, PhysicalCard

log = logging.getLogger("ecard.cards")


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


@dataclass(frozen=True)
class FaceCheck:
    engine: FaceEngine
    protector: DataProtector
    threshold: float
    max_image_bytes: int

    def template_present(self, session: Session, person_id: int) -> FaceTemplate:
        template = session.get(FaceTemplate, person_id)
        if template is None:
            raise EcardError("ENROLMENT_PHOTO_MISSING")
        return template

    def score(self, session: Session, person_id: int, face_image: str | None, *,
              scene: str) -> float:
        """The distance between the image's one face and the enrolment template;
        ``FACE_MISMATCH`` above the threshold (the score is logged, not answered)."""
        if not face_image:
            raise EcardError("FACE_IMAGE_REQUIRED")
        template = self.template_present(session, person_id)
        rgb = load_rgb(decode_base64_image(face_image), max_bytes=self.max_image_bytes)
        face = single_face(self.engine, rgb)
        enrolled = encoding_from_bytes(
            self.protector.decrypt(template.template_enc, "face_template.template"))
        result = match(face.encoding, enrolled, self.threshold)
        log.info("face match person:%s scene=%s score=%.4f threshold=%.2f matched=%s",
                 person_id, scene, result.score, self.threshold, result.matched)
        if not result.matched:
            raise EcardError("FACE_MISMATCH")
        return result.score
