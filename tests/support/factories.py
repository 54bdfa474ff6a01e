"""Building registry records directly, for tests of the domains that read them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ecard.faces.images import load_rgb
from ecard.faces.interfaces import MODEL_NAME
from ecard.faces.services import encoding_to_bytes, single_face
from ecard.platform import Platform
from ecard.protect import mask_id_number, mask_name
from ecard.registry.models import FaceTemplate, Person, PhysicalCard


def id_check_char(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def make_id_number(region: str = "110101", birth: str = "19550307", seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + id_check_char(first17)


@dataclass
class Holder:
    person_id: int
    card_id: int
    id_number: str
    name: str
    card_no: str


def make_holder(platform: Platform, *, id_number: str | None = None, name: str = "张三",
                card_no: str = "A12345678", region: str = "110101",
                photo: Path | None = None, status: str = "active",
                bank_account: str | None = "6222020200112233445",
                reserved_phone: str | None = "13800138000") -> Holder:
    id_number = id_number or make_id_number(region)
    p = platform.protector
    now = platform.clock.now()
    with platform.db.transaction() as session:
        person = Person(
            id_index=p.blind_index(id_number), id_number_enc=p.encrypt_str(id_number,
                                                                           "person.id_number"),
            id_masked=mask_id_number(id_number), name_enc=p.encrypt_str(name, "person.name"),
            name_masked=mask_name(name), gender="1",
            birth_date=date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
            region=region, row_hash="test", created_at=now, updated_at=now)
        session.add(person)
        session.flush()
        card = PhysicalCard(
            card_no=card_no, person_id=person.id, region=region, generation=3,
            bank_code="ICBC",
            bank_account_enc=p.encrypt_str(bank_account, "card.bank_account")
            if bank_account else None,
            reserved_phone_enc=p.encrypt_str(reserved_phone, "card.reserved_phone")
            if reserved_phone else None,
            status=status, updated_at=now)
        session.add(card)
        session.flush()
        if photo is not None:
            data = photo.read_bytes()
            face = single_face(platform.faces, load_rgb(data, max_bytes=20_000_000))
            session.add(FaceTemplate(
                person_id=person.id,
                template_enc=p.encrypt(encoding_to_bytes(face.encoding), "face_template.template"),
                photo_enc=p.encrypt(data, "face_template.photo"),
                photo_sha256=hashlib.sha256(data).hexdigest(), model=MODEL_NAME, updated_at=now))
        return Holder(person.id, card.id, id_number, name, card_no)


def passed_session(platform: Platform, person_id: int, channel_no: str, *,
                   purpose: str = "issuance", face_score: float = 0.41,
                   passed: bool = True, mode: str = "standard",
                   decided_ago_s: float = 0.0, sign_no: str | None = None) -> str:
    """A decided liveness session written directly, for the tests of the steps that
    spend one (issuance, PIN reset). Sessions themselves are decided on real frames in
    tests/certification (including one issuance end to end through the API)."""
    from datetime import timedelta

    from ecard.certification.models import CertificationAttempt, CertificationSession

    decided = platform.clock.now() - timedelta(seconds=decided_ago_s)
    session_id = "cs_" + secrets.token_urlsafe(18)
    with platform.db.transaction() as session:
        session.add(CertificationSession(
            id=session_id, channel_no=channel_no, sign_no=sign_no, person_id=person_id,
            mode=mode, purpose=purpose, nonce=secrets.token_urlsafe(24),
            actions=["blink", "open_mouth"], status="decided", passed=passed,
            reason=None if passed else "FACE_MISMATCH", created_at=decided,
            deadline=decided + timedelta(seconds=60), decided_at=decided, used_at=None))
        session.flush()
        session.add(CertificationAttempt(
            session_id=session_id, person_id=person_id, channel_no=channel_no, mode=mode,
            purpose=purpose, passed=passed, reason=None if passed else "FACE_MISMATCH",
            reasons=[] if passed else ["FACE_MISMATCH"], threshold=0.5,
            max_distance=face_score, max_pairwise_distance=0.3,
            scores={"max_distance": face_score}, frame_count=5, age_band="70-79",
            local_day=decided.date(), decided_at=decided))
    return session_id
