"""Issuance, relinking, unlinking and the PIN through the card service.

A first e-card spends a passed liveness session (purpose ``issuance``); these tests
write such sessions directly (``passed_session``) and leave deciding them on real
frames to tests/certification (``test_issuance.py`` runs the whole flow on the API).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ecard.audit.models import AuditEntry
from ecard.cards import services as card_services
from ecard.cards.interfaces import IssueRequest, IssueResult
from ecard.cards.models import ECard, Pin
from ecard.cards.services import CardService
from ecard.certification.models import CertificationSession
from ecard.errors import EcardError
from ecard.notifications.models import Notification
from ecard.platform import Platform
from ecard.registry.models import PhysicalCard
from tests.cards.conftest import BANK, GOV
from tests.cards.helpers import GOOD_PIN, OTHER_PIN, make_channel
from tests.support.channel_client import ChannelIdentity
from tests.support.factories import Holder, make_holder, make_id_number, passed_session

pytestmark = pytest.mark.usefixtures("bank", "gov")


def _counts(platform: Platform) -> dict[str, int]:
    with platform.db.session() as session:
        counts = {model.__tablename__: session.scalar(select(func.count())
                                                      .select_from(model)) or 0
                  for model in (ECard, Pin, Notification, AuditEntry)}
        counts["spent_sessions"] = session.scalar(
            select(func.count()).select_from(CertificationSession)
            .where(CertificationSession.used_at.is_not(None))) or 0
        return counts


def _live(platform: Platform, holder: Holder, channel_no: str = BANK, **kw: object) -> str:
    """A passed issuance session of ``holder`` in ``channel_no``."""
    return passed_session(platform, holder.person_id, channel_no, **kw)  # type: ignore[arg-type]


def _issue(platform: Platform, svc: CardService, channel_no: str, holder: Holder, *,
           session_id: str | None = None, pin: str | None = GOOD_PIN, name: str | None = None,
           card_no: str | None = None, id_number: str | None = None) -> IssueResult:
    with platform.db.transaction() as session:
        return svc.issue_card(session, channel_no, IssueRequest(
            name=name if name is not None else holder.name,
            id_number=id_number or holder.id_number, card_no=card_no or holder.card_no,
            certification_session_id=session_id, pin=pin))


def _first(platform: Platform, svc: CardService, channel_no: str, holder: Holder,
           **kw: str | None) -> IssueResult:
    """A first issuance with a fresh passed session."""
    return _issue(platform, svc, channel_no, holder,
                  session_id=_live(platform, holder, channel_no), **kw)


def _refused(platform: Platform, svc: CardService, channel_no: str, holder: Holder,
             **kw: str | None) -> EcardError:
    """The refusal of an issuance, checked to have written nothing (and spent no
    session)."""
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


def _spent(platform: Platform, session_id: str) -> bool:
    with platform.db.session() as session:
        return session.get_one(CertificationSession, session_id).used_at is not None


def test_first_issuance_spends_a_passed_session(cached_platform: Platform, svc: CardService,
                                                holder: Holder) -> None:
    sid = _live(cached_platform, holder, face_score=0.4123, mode="elder")
    result = _issue(cached_platform, svc, BANK, holder, session_id=sid)
    card = result.card
    assert result.event == "issued" and result.created
    assert card.level == 1 and card.status == "active"
    assert card.face_score == 0.4123  # the session's farthest frame distance
    assert card.sign_no.startswith("110101") and len(card.sign_no) == 22
    assert card.openid == cached_platform.protector.pseudonym(BANK, str(holder.person_id))
    assert card.name_masked == "*三" and card.id_masked == holder.id_number[:4] + "*" * 10 \
        + holder.id_number[-4:]
    assert _spent(cached_platform, sid)
    with cached_platform.db.session() as session:
        pin = session.get(Pin, holder.person_id)
        assert pin is not None and pin.pin_hash.startswith("$argon2id$")
        assert session.scalars(select(ECard)).one().face_score == 0.4123
        notes = session.scalars(select(Notification)).all()
        assert [(n.channel_no, n.event, n.sign_no) for n in notes] == [
            (BANK, "issued", card.sign_no)]
        assert holder.id_number not in str(notes[0].payload)
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "ecard.issued")).one()
        assert (entry.actor_type, entry.actor_id, entry.subject, entry.channel_no,
                entry.scene) == ("channel", BANK, f"person:{holder.person_id}", BANK,
                                 "issuance")
        assert entry.details["face_score"] == 0.4123
        assert entry.details["certification_session_id"] == sid
        assert entry.details["certification_mode"] == "elder"


@pytest.mark.parametrize(("kind", "reason"), [
    ("unknown", "not_found"), ("other_channel", "not_found"),
    ("other_person", "other_person"), ("entitlement", "other_purpose"),
    ("pin_reset", "other_purpose"), ("failed", "not_passed"), ("too_old", "too_old")])
def test_a_session_that_is_not_a_recent_pass_of_this_holder_here_is_refused(
        cached_platform: Platform, svc: CardService, holder: Holder, kind: str,
        reason: str) -> None:
    other = make_holder(cached_platform, id_number=make_id_number("110101", "19600101", "011"),
                        name="李四", card_no="B12345678")
    sid = {
        "unknown": lambda: "cs_nope",
        "other_channel": lambda: _live(cached_platform, holder, GOV),
        "other_person": lambda: _live(cached_platform, other),
        "entitlement": lambda: _live(cached_platform, holder, purpose="entitlement"),
        "pin_reset": lambda: _live(cached_platform, holder, purpose="pin_reset"),
        "failed": lambda: _live(cached_platform, holder, passed=False),
        "too_old": lambda: _live(cached_platform, holder, decided_ago_s=601),
    }[kind]()
    err = _refused(cached_platform, svc, BANK, holder, session_id=sid)
    assert (err.code, err.status, err.details) == ("CERTIFICATION_SESSION_INVALID", 422,
                                                   {"reason": reason})


def test_a_session_is_spent_once(cached_platform: Platform, svc: CardService,
                                 holder: Holder) -> None:
    sid = _live(cached_platform, holder, decided_ago_s=599)  # still within 10 minutes
    with cached_platform.db.transaction() as session:
        svc.liveness.spend(session, BANK, sid, holder.person_id, purpose="issuance")
    err = _refused(cached_platform, svc, BANK, holder, session_id=sid)
    assert (err.code, err.details) == ("CERTIFICATION_SESSION_INVALID", {"reason": "used"})


def test_session_and_pin_are_required_first_and_a_refusal_spends_nothing(
        cached_platform: Platform, svc: CardService, holder: Holder) -> None:
    err = _refused(cached_platform, svc, BANK, holder, session_id=None)
    assert (err.code, err.status) == ("CERTIFICATION_SESSION_REQUIRED", 422)
    assert "face check first" in err.to_dict("en")["message"]
    assert "刷脸" in err.to_dict("zh")["message"]
    sid = _live(cached_platform, holder)
    assert _refused(cached_platform, svc, BANK, holder, session_id=sid,
                    pin=None).code == "PIN_REQUIRED"
    err = _refused(cached_platform, svc, BANK, holder, session_id=sid, pin="123456")
    assert (err.code, err.details) == ("PIN_TOO_WEAK", {"reason": "run"})
    assert not _spent(cached_platform, sid)
    assert _issue(cached_platform, svc, BANK, holder, session_id=sid).event == "issued"


def test_a_write_that_fails_after_spending_rolls_the_spending_back(
        cached_platform: Platform, svc: CardService, holder: Holder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The session is spent as the last check; a lost race at the insert (here: the
    status-index allocation failing like a unique violation) rolls it back."""
    sid = _live(cached_platform, holder)

    def conflict(*_: object) -> int:
        raise IntegrityError("INSERT", {}, Exception("unique"))
    monkeypatch.setattr(card_services, "allocate_status_index", conflict)
    err = _refused(cached_platform, svc, BANK, holder, session_id=sid)
    assert err.code == "ISSUANCE_CONFLICT"
    assert not _spent(cached_platform, sid)
    monkeypatch.undo()
    assert _issue(cached_platform, svc, BANK, holder, session_id=sid).event == "issued"


def test_registry_refusals(cached_platform: Platform, svc: CardService,
                           holder: Holder) -> None:
    sid = _live(cached_platform, holder)
    unknown = make_id_number("110101", "19600101", "011")
    assert _refused(cached_platform, svc, BANK, holder, session_id=sid,
                    id_number=unknown).code == "PERSON_NOT_FOUND"
    err = _refused(cached_platform, svc, BANK, holder, session_id=sid,
                   id_number=holder.id_number[:-1] + "0")
    assert err.code == "ID_NUMBER_INVALID"
    for kw in ({"name": "李四"}, {"card_no": "C99999999"}):
        err = _refused(cached_platform, svc, BANK, holder, session_id=sid, **kw)
        assert err.code == "IDENTITY_MISMATCH" and err.details is None
    # NFKC and surrounding spaces do not matter: a full-width space is a space.
    result = _issue(cached_platform, svc, BANK, holder, session_id=sid, name="\u3000张三 ")
    assert result.event == "issued"


def test_card_not_active(cached_platform: Platform, svc: CardService, faces_dir: Path) -> None:
    lost = make_holder(cached_platform, card_no="L12345678", status="lost",
                       photo=faces_dir / "people/person_04/img1.jpg")
    err = _refused(cached_platform, svc, BANK, lost, session_id=_live(cached_platform, lost))
    assert err.code == "CARD_NOT_ACTIVE" and err.details == {"card_status": "lost"}


def test_issuing_again_answers_already_issued(cached_platform: Platform, svc: CardService,
                                              holder: Holder, faces_dir: Path) -> None:
    first = _first(cached_platform, svc, BANK, holder)
    again = _first(cached_platform, svc, BANK, holder)
    assert again.event == "already_issued" and not again.created
    assert again.card.sign_no == first.card.sign_no
    with cached_platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ECard)) == 1
        events = session.scalars(select(Notification.event).order_by(Notification.id)).all()
    assert events == ["issued", "already_issued"]


def test_relink_in_a_second_channel_with_the_pin(cached_platform: Platform,
                                                 svc: CardService, holder: Holder,
                                                 faces_dir: Path) -> None:
    bank_card = _first(cached_platform, svc, BANK, holder).card
    err = _refused(cached_platform, svc, GOV, holder, pin=None)
    assert err.code == "PIN_REQUIRED"
    # The first-issuance form with a PIN other than the one set: "enter your PIN".
    err = _refused(cached_platform, svc, GOV, holder,
                   session_id=_live(cached_platform, holder, GOV), pin=OTHER_PIN)
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
    _first(cached_platform, svc, BANK, holder)
    codes = [_refused_code(cached_platform, svc, holder) for _ in range(6)]
    assert codes == ["PIN_WRONG"] * 5 + ["PIN_LOCKED"]
    err = _refused(cached_platform, svc, GOV, holder, pin=GOOD_PIN)
    assert err.code == "PIN_LOCKED" and err.status == 423


def _refused_code(platform: Platform, svc: CardService, holder: Holder) -> str:
    with pytest.raises(EcardError) as err:
        _issue(platform, svc, GOV, holder, pin=OTHER_PIN)
    return err.value.code


def test_unlink_one_channel_leaves_the_other(cached_platform: Platform, svc: CardService,
                                             holder: Holder) -> None:
    bank_card = _first(cached_platform, svc, BANK, holder).card
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
        cached_platform: Platform, svc: CardService, holder: Holder) -> None:
    bank_card = _first(cached_platform, svc, BANK, holder).card
    gov_card = _issue(cached_platform, svc, GOV, holder, pin=GOOD_PIN).card
    with cached_platform.db.transaction() as session:
        holdings = svc.list_card_channels(session, BANK, bank_card.sign_no)
    assert {(h.channel_no, h.type, h.status, h.this_channel) for h in holdings} == {
        (BANK, "bank", "active", True), (GOV, "government", "active", False)}
    text = repr(holdings)
    assert gov_card.sign_no not in text and gov_card.openid not in text


def test_a_channel_cannot_see_another_channels_card(
        cached_platform: Platform, svc: CardService, holder: Holder) -> None:
    bank_card = _first(cached_platform, svc, BANK, holder).card
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
    card = _first(cached_platform, svc, BANK, holder).card
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
    err = _refused(cached_platform, svc, BANK, holder,
                   session_id=_live(cached_platform, holder))
    assert err.code == "IDENTITY_MISMATCH"
    result = _first(cached_platform, svc, BANK, holder, card_no="N12345678")
    assert result.event == "issued"


def test_third_channel_from_a_helper(cached_platform: Platform, svc: CardService,
                                     holder: Holder, faces_dir: Path,
                                     bank: ChannelIdentity) -> None:
    make_channel(cached_platform, "3000000003", type="medical")
    _first(cached_platform, svc, BANK, holder)
    third = _issue(cached_platform, svc, "3000000003", holder, pin=GOOD_PIN)
    assert third.event == "relinked"
    with cached_platform.db.session() as session:
        assert session.get_one(Pin, holder.person_id).failed_attempts == 0
