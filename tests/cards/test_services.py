from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ecard.audit.models import AuditEntry
from ecard.cards.interfaces import IssueRequest, IssueResult
from ecard.cards.models import ECard, Pin
from ecard.cards.services import CardService
from ecard.errors import EcardError
from ecard.notifications.models import Notification
from ecard.platform import Platform
from ecard.registry.models import PhysicalCard
from tests.cards.conftest import BANK, GOV
from tests.cards.helpers import (
    GOOD_PIN,
    LIVE,
    NO_FACE,
    OTHER_PERSON,
    OTHER_PIN,
    TWO_FACES,
    b64,
    make_channel,
)
from tests.support.channel_client import ChannelIdentity
from tests.support.factories import Holder, make_holder, make_id_number

pytestmark = pytest.mark.usefixtures("bank", "gov")


def _counts(platform: Platform) -> dict[str, int]:
    with platform.db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (ECard, Pin, Notification, AuditEntry)}


def _issue(platform: Platform, svc: CardService, channel_no: str, holder: Holder, *,
           face: str | None = None, pin: str | None = GOOD_PIN, name: str | None = None,
           card_no: str | None = None, id_number: str | None = None) -> IssueResult:
    with platform.db.transaction() as session:
        return svc.issue_card(session, channel_no, IssueRequest(
            name=name if name is not None else holder.name,
            id_number=id_number or holder.id_number, card_no=card_no or holder.card_no,
            face_image=face, pin=pin))


def _refused(platform: Platform, svc: CardService, channel_no: str, holder: Holder,
             **kw: str | None) -> EcardError:
    before = _counts(platform)
    with pytest.raises(EcardError) as err:
        _issue(platform, svc, channel_no, holder, **kw)  # type: ignore[arg-type]
    after = _counts(platform)
    if err.value.code in _COUNTED:
        # a wrong PIN is the one deliberate write: its count and its audit entry
        assert after.pop("audit_log") == before.pop("audit_log") + 1
    assert after == before, "a refused issuance wrote something"
    return err.value


_COUNTED = {"PIN_WRONG", "PIN_ALREADY_SET"}


def test_first_issuance_with_a_live_face(cached_platform: Platform, svc: CardService,
                                         holder: Holder, faces_dir: Path) -> None:
    result = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE))
    card = result.card
    assert result.event == "issued" and result.created
    assert card.level == 1 and card.status == "active"
    assert card.face_score is not None and 0 < card.face_score < 0.5
    assert card.sign_no.startswith("110101") and len(card.sign_no) == 22
    assert card.openid == cached_platform.protector.pseudonym(BANK, str(holder.person_id))
    assert card.name_masked == "*三" and card.id_masked == holder.id_number[:4] + "*" * 10 \
        + holder.id_number[-4:]
    with cached_platform.db.session() as session:
        pin = session.get(Pin, holder.person_id)
        assert pin is not None and pin.pin_hash.startswith("$argon2id$")
        notes = session.scalars(select(Notification)).all()
        assert [(n.channel_no, n.event, n.sign_no) for n in notes] == [
            (BANK, "issued", card.sign_no)]
        assert holder.id_number not in str(notes[0].payload)
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "ecard.issued")).one()
        assert (entry.actor_type, entry.actor_id, entry.subject, entry.channel_no,
                entry.scene) == ("channel", BANK, f"person:{holder.person_id}", BANK,
                                 "issuance")
        assert entry.details["face_score"] == card.face_score


@pytest.mark.parametrize(("image", "code"), [
    (OTHER_PERSON, "FACE_MISMATCH"), (NO_FACE, "FACE_NOT_FOUND"),
    (TWO_FACES, "FACE_MULTIPLE")])
def test_face_refusals_write_nothing(cached_platform: Platform, svc: CardService,
                                     holder: Holder, faces_dir: Path, image: str,
                                     code: str) -> None:
    err = _refused(cached_platform, svc, BANK, holder, face=b64(faces_dir / image))
    assert err.code == code


def test_face_and_pin_are_required_first(cached_platform: Platform, svc: CardService,
                                         holder: Holder, faces_dir: Path) -> None:
    assert _refused(cached_platform, svc, BANK, holder, face=None).code == "FACE_IMAGE_REQUIRED"
    assert _refused(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE),
                    pin=None).code == "PIN_REQUIRED"
    err = _refused(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE),
                   pin="123456")
    assert (err.code, err.details) == ("PIN_TOO_WEAK", {"reason": "run"})


def test_no_enrolment_photo(cached_platform: Platform, svc: CardService,
                            faces_dir: Path) -> None:
    bare = make_holder(cached_platform, card_no="B12345678")
    err = _refused(cached_platform, svc, BANK, bare, face=b64(faces_dir / LIVE))
    assert err.code == "ENROLMENT_PHOTO_MISSING"


def test_registry_refusals(cached_platform: Platform, svc: CardService, holder: Holder,
                          faces_dir: Path) -> None:
    face = b64(faces_dir / LIVE)
    unknown = make_id_number("110101", "19600101", "011")
    assert _refused(cached_platform, svc, BANK, holder, face=face,
                    id_number=unknown).code == "PERSON_NOT_FOUND"
    err = _refused(cached_platform, svc, BANK, holder, face=face,
                   id_number=holder.id_number[:-1] + "0")
    assert err.code == "ID_NUMBER_INVALID"
    for kw in ({"name": "李四"}, {"card_no": "C99999999"}):
        err = _refused(cached_platform, svc, BANK, holder, face=face, **kw)
        assert err.code == "IDENTITY_MISMATCH" and err.details is None
    # NFKC and surrounding spaces do not matter: a full-width space is a space.
    result = _issue(cached_platform, svc, BANK, holder, face=face, name="\u3000张三 ")
    assert result.event == "issued"


def test_card_not_active(cached_platform: Platform, svc: CardService, faces_dir: Path) -> None:
    lost = make_holder(cached_platform, card_no="L12345678", status="lost",
                       photo=faces_dir / "people/person_04/img1.jpg")
    err = _refused(cached_platform, svc, BANK, lost, face=b64(faces_dir / LIVE))
    assert err.code == "CARD_NOT_ACTIVE" and err.details == {"card_status": "lost"}


def test_issuing_again_answers_already_issued(cached_platform: Platform, svc: CardService,
                                              holder: Holder, faces_dir: Path) -> None:
    first = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE))
    again = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE))
    assert again.event == "already_issued" and not again.created
    assert again.card.sign_no == first.card.sign_no
    with cached_platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ECard)) == 1
        events = session.scalars(select(Notification.event).order_by(Notification.id)).all()
    assert events == ["issued", "already_issued"]


def test_relink_in_a_second_channel_with_the_pin(cached_platform: Platform,
                                                 svc: CardService, holder: Holder,
                                                 faces_dir: Path) -> None:
    bank_card = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE)).card
    err = _refused(cached_platform, svc, GOV, holder, pin=None)
    assert err.code == "PIN_REQUIRED"
    # The first-issuance form with a PIN other than the one set: "enter your PIN".
    err = _refused(cached_platform, svc, GOV, holder, face=b64(faces_dir / LIVE),
                   pin=OTHER_PIN)
    assert err.code == "PIN_ALREADY_SET" and err.details == {"remaining_attempts": 5}
    err = _refused(cached_platform, svc, GOV, holder, pin=OTHER_PIN)
    assert err.code == "PIN_WRONG" and err.details == {"remaining_attempts": 4}
    gov = _issue(cached_platform, svc, GOV, holder, pin=GOOD_PIN)
    assert gov.event == "relinked" and gov.card.face_score is None
    assert gov.card.sign_no != bank_card.sign_no
    # per-channel pseudonyms: different across channels, stable within one
    assert gov.card.openid != bank_card.openid
    assert _issue(cached_platform, svc, GOV, holder).card.openid == gov.card.openid


def test_locked_pin_blocks_relink(cached_platform: Platform, svc: CardService, holder: Holder,
                                  faces_dir: Path) -> None:
    _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE))
    codes = [_refused_code(cached_platform, svc, holder) for _ in range(6)]
    assert codes == ["PIN_WRONG"] * 5 + ["PIN_LOCKED"]
    err = _refused(cached_platform, svc, GOV, holder, pin=GOOD_PIN)
    assert err.code == "PIN_LOCKED" and err.status == 423


def _refused_code(platform: Platform, svc: CardService, holder: Holder) -> str:
    with pytest.raises(EcardError) as err:
        _issue(platform, svc, GOV, holder, pin=OTHER_PIN)
    return err.value.code


def test_unlink_one_channel_leaves_the_other(cached_platform: Platform, svc: CardService,
                                             holder: Holder, faces_dir: Path) -> None:
    bank_card = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE)).card
    gov_card = _issue(cached_platform, svc, GOV, holder, pin=GOOD_PIN).card
    with pytest.raises(EcardError) as err, cached_platform.db.transaction() as session:
        svc.unlink(session, GOV, gov_card.sign_no, OTHER_PIN)
    assert err.value.code == "PIN_WRONG"
    with cached_platform.db.transaction() as session:
        unlinked = svc.unlink(session, GOV, gov_card.sign_no, GOOD_PIN)
    assert unlinked.status == "unlinked"
    with cached_platform.db.transaction() as session:
        assert svc.get_card(session, BANK, bank_card.sign_no).status == "active"
        assert svc.get_card(session, GOV, gov_card.sign_no).status == "unlinked"
        with pytest.raises(EcardError) as err:
            svc.issue_credential(session, GOV, gov_card.sign_no)
        assert err.value.code == "ECARD_NOT_ACTIVE"
        holdings = svc.list_card_channels(session, BANK, bank_card.sign_no)
    assert [h.channel_no for h in holdings] == [BANK]
    # Issuing again in the same channel restores the same e-card.
    again = _issue(cached_platform, svc, GOV, holder, pin=GOOD_PIN)
    assert again.event == "relinked" and again.card.sign_no == gov_card.sign_no
    with cached_platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ECard)) == 2


def test_channel_list_hides_other_channels_identifiers(
        cached_platform: Platform, svc: CardService, holder: Holder, faces_dir: Path) -> None:
    bank_card = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE)).card
    gov_card = _issue(cached_platform, svc, GOV, holder, pin=GOOD_PIN).card
    with cached_platform.db.transaction() as session:
        holdings = svc.list_card_channels(session, BANK, bank_card.sign_no)
    assert {(h.channel_no, h.type, h.status, h.this_channel) for h in holdings} == {
        (BANK, "bank", "active", True), (GOV, "government", "active", False)}
    text = repr(holdings)
    assert gov_card.sign_no not in text and gov_card.openid not in text


def test_a_channel_cannot_see_another_channels_card(
        cached_platform: Platform, svc: CardService, holder: Holder, faces_dir: Path) -> None:
    bank_card = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE)).card
    with cached_platform.db.transaction() as session:
        for call in (lambda: svc.get_card(session, GOV, bank_card.sign_no),
                     lambda: svc.list_card_channels(session, GOV, bank_card.sign_no),
                     lambda: svc.issue_credential(session, GOV, bank_card.sign_no),
                     lambda: svc.verify_pin(session, GOV, bank_card.sign_no, GOOD_PIN)):
            with pytest.raises(EcardError) as err:
                call()
            assert err.value.code == "ECARD_NOT_FOUND"


@pytest.mark.parametrize(("status", "code"), [("suspended", "ECARD_SUSPENDED"),
                                              ("revoked", "ECARD_REVOKED")])
def test_suspended_and_revoked_cards_refuse_use(
        cached_platform: Platform, svc: CardService, holder: Holder, faces_dir: Path,
        status: str, code: str) -> None:
    card = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE)).card
    with cached_platform.db.transaction() as session:
        session.execute(ECard.__table__.update().values(status=status))
    with cached_platform.db.transaction() as session:
        view = svc.get_card(session, BANK, card.sign_no)
        assert view.status == status and "physical card" in view.status_explanation
        for call in (lambda: svc.issue_credential(session, BANK, card.sign_no),
                     lambda: svc.verify_pin(session, BANK, card.sign_no, GOOD_PIN),
                     lambda: svc.unlink(session, BANK, card.sign_no, GOOD_PIN)):
            with pytest.raises(EcardError) as err:
                call()
            assert err.value.code == code
    # the same channel issuing again is refused too, with the reason
    err = _refused(cached_platform, svc, BANK, holder, pin=GOOD_PIN)
    assert err.code == code


def test_replaced_card_number_is_not_the_current_card(
        cached_platform: Platform, svc: CardService, holder: Holder, faces_dir: Path) -> None:
    with cached_platform.db.transaction() as session:
        old = session.get_one(PhysicalCard, holder.card_id)
        old.status, old.replaced_by = "replaced", "N12345678"
        session.add(PhysicalCard(card_no="N12345678", person_id=holder.person_id,
                                 region="110101", generation=3, bank_code=None,
                                 bank_account_enc=None, reserved_phone_enc=None,
                                 status="active", updated_at=cached_platform.clock.now()))
    err = _refused(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE))
    assert err.code == "IDENTITY_MISMATCH"
    result = _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE),
                    card_no="N12345678")
    assert result.event == "issued"


def test_third_channel_from_a_helper(cached_platform: Platform, svc: CardService,
                                     holder: Holder, faces_dir: Path,
                                     bank: ChannelIdentity) -> None:
    make_channel(cached_platform, "3000000003", type="medical")
    _issue(cached_platform, svc, BANK, holder, face=b64(faces_dir / LIVE))
    third = _issue(cached_platform, svc, "3000000003", holder, pin=GOOD_PIN)
    assert third.event == "relinked"
    with cached_platform.db.session() as session:
        assert session.get_one(Pin, holder.person_id).failed_attempts == 0
