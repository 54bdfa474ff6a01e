"""Card status changes and their cascade to e-cards, notifications and the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ecard.audit.models import AuditEntry
from ecard.audit.services import Actor, verify_chain
from ecard.cards.models import ECard
from ecard.errors import EcardError
from ecard.notifications.models import Notification
from ecard.platform import Platform
from ecard.registry.models import PhysicalCard
from ecard.registry.services import StatusChange, card_view, set_card_status
from tests.registry.conftest import add_channel, add_ecard
from tests.support.factories import make_holder, make_id_number

ACTOR = Actor("operator", "tester")


@pytest.fixture
def holder(platform: Platform) -> str:
    """A card A12345678 with e-cards in three channels (one unlinked) and a bystander."""
    make_holder(platform, card_no="A12345678")
    make_holder(platform, card_no="B12345678", id_number=make_id_number(seq="456"))
    for no in ("1000000001", "1000000002", "1000000003"):
        add_channel(platform, no)
    add_ecard(platform, "A12345678", "1000000001", "S1")
    add_ecard(platform, "A12345678", "1000000002", "S2")
    add_ecard(platform, "A12345678", "1000000003", "S3", status="unlinked")
    add_ecard(platform, "B12345678", "1000000001", "S4")
    return "A12345678"


def change(platform: Platform, card_no: str, status: str,
           replaced_by: str | None = None) -> StatusChange:
    with platform.db.transaction() as s:
        return set_card_status(s, platform.clock, ACTOR, card_no, status, replaced_by)


def ecards(platform: Platform) -> dict[str, tuple[str, int]]:
    with platform.db.transaction() as s:
        return {e.sign_no: (e.status, e.card_id) for e in s.scalars(select(ECard))}


def notes(platform: Platform) -> list[tuple[str, str | None, str, dict[str, object]]]:
    with platform.db.transaction() as s:
        return [(n.channel_no, n.sign_no, n.event, n.payload)
                for n in s.scalars(select(Notification).order_by(Notification.id))]


def card(platform: Platform, card_no: str) -> PhysicalCard:
    with platform.db.transaction() as s:
        return s.scalars(select(PhysicalCard).where(PhysicalCard.card_no == card_no)).one()


def test_lost_suspends_and_found_reinstates(platform: Platform, holder: str) -> None:
    result = change(platform, holder, "lost")
    assert (result.old_status, result.new_status) == ("active", "lost")
    assert {(a.sign_no, a.event) for a in result.ecards} == {("S1", "suspended"),
                                                            ("S2", "suspended")}
    state = ecards(platform)
    assert state["S1"][0] == state["S2"][0] == "suspended"
    assert state["S3"][0] == "unlinked"  # an unlinked e-card is left alone
    assert state["S4"][0] == "active"  # another person's e-card too
    assert notes(platform) == [
        ("1000000001", "S1", "suspended",
         {"event": "suspended", "sign_no": "S1", "status": "suspended", "reason": "card_lost"}),
        ("1000000002", "S2", "suspended",
         {"event": "suspended", "sign_no": "S2", "status": "suspended", "reason": "card_lost"}),
    ]
    with platform.db.transaction() as s:
        assert all(n.status == "pending" for n in s.scalars(select(Notification)))

    found = change(platform, holder, "active")
    assert {(a.sign_no, a.event, a.status) for a in found.ecards} == {
        ("S1", "reinstated", "active"), ("S2", "reinstated", "active")}
    assert ecards(platform)["S1"][0] == "active"
    assert [n[2] for n in notes(platform)][2:] == ["reinstated", "reinstated"]
    assert card(platform, holder).status == "active"


def test_cancelled_revokes(platform: Platform, holder: str) -> None:
    change(platform, holder, "lost")
    result = change(platform, holder, "cancelled")
    assert {(a.sign_no, a.event) for a in result.ecards} == {("S1", "revoked"),
                                                            ("S2", "revoked")}
    assert ecards(platform)["S1"][0] == "revoked"
    payloads = [n[3] for n in notes(platform) if n[2] == "revoked"]
    assert payloads[0]["reason"] == "card_cancelled"
    for final in ("active", "lost", "replaced", "cancelled"):
        with pytest.raises(EcardError) as exc:
            change(platform, holder, final, "C12345678" if final == "replaced" else None)
        assert exc.value.code in ("CARD_STATUS_TRANSITION_INVALID", "REPLACEMENT_CARD_INVALID")


def test_replaced_rebinds_to_a_new_card(platform: Platform, holder: str) -> None:
    change(platform, holder, "lost")
    old_id = card(platform, holder).id
    result = change(platform, holder, "replaced", "c12345678")
    assert result.replaced_by == "C12345678" and result.new_card_created
    new = card(platform, "C12345678")
    old = card(platform, holder)
    assert (new.status, new.person_id, new.region, new.bank_code) == (
        "active", old.person_id, old.region, old.bank_code)
    assert new.bank_account_enc == old.bank_account_enc
    assert (old.status, old.replaced_by) == ("replaced", "C12345678")
    state = ecards(platform)
    assert state["S1"] == ("active", new.id)  # suspended, now reinstated on the new card
    assert state["S2"] == ("active", new.id)
    assert state["S3"][1] == old_id  # the unlinked one stays where it was
    rebound = [n for n in notes(platform) if n[2] == "rebound"]
    assert {n[1] for n in rebound} == {"S1", "S2"}
    assert rebound[0][3]["reason"] == "card_replaced"
    with pytest.raises(EcardError) as exc:
        change(platform, holder, "active")
    assert exc.value.code == "CARD_STATUS_TRANSITION_INVALID"


def test_replacement_with_an_existing_card_of_the_same_person(platform: Platform,
                                                             holder: str) -> None:
    with platform.db.transaction() as s:
        old = s.scalars(select(PhysicalCard).where(PhysicalCard.card_no == holder)).one()
        s.add(PhysicalCard(card_no="D12345678", person_id=old.person_id, region="110101",
                           generation=3, bank_code="ICBC", bank_account_enc=None,
                           reserved_phone_enc=None, status="active",
                           updated_at=platform.clock.now()))
    result = change(platform, holder, "replaced", "D12345678")
    assert not result.new_card_created
    assert ecards(platform)["S1"][1] == card(platform, "D12345678").id


@pytest.mark.parametrize("status, replaced_by, code", [
    ("replaced", None, "REPLACEMENT_CARD_INVALID"),
    ("replaced", "B12345678", "REPLACEMENT_CARD_INVALID"),  # another person's card
    ("replaced", "A12345678", "REPLACEMENT_CARD_INVALID"),  # itself
    ("replaced", "BAD", "REPLACEMENT_CARD_INVALID"),
    ("active", None, "CARD_STATUS_TRANSITION_INVALID"),  # active -> active
    ("stolen", None, "VALIDATION_FAILED"),
    ("lost", "C12345678", "VALIDATION_FAILED"),
])
def test_refused_changes_change_nothing(platform: Platform, holder: str, status: str,
                                        replaced_by: str | None, code: str) -> None:
    before = ecards(platform)
    with pytest.raises(EcardError) as exc:
        change(platform, holder, status, replaced_by)
    assert exc.value.code == code
    assert ecards(platform) == before
    assert notes(platform) == []
    assert card(platform, holder).status == "active"


def test_unknown_or_malformed_card(platform: Platform) -> None:
    with pytest.raises(EcardError) as exc:
        change(platform, "Z99999999", "lost")
    assert exc.value.code == "CARD_NOT_FOUND"
    with pytest.raises(EcardError) as exc:
        change(platform, "Z9", "lost")
    assert exc.value.code == "CARD_NUMBER_INVALID"


def test_a_replacement_card_that_is_not_active_is_refused(platform: Platform,
                                                         holder: str) -> None:
    change(platform, holder, "replaced", "C12345678")
    change(platform, "C12345678", "lost")
    with platform.db.transaction() as s:
        pid = s.scalars(select(PhysicalCard.person_id)
                        .where(PhysicalCard.card_no == "C12345678")).one()
        s.add(PhysicalCard(card_no="E12345678", person_id=pid, region="110101", generation=3,
                           bank_code=None, bank_account_enc=None, reserved_phone_enc=None,
                           status="cancelled", updated_at=platform.clock.now()))
    with pytest.raises(EcardError) as exc:
        change(platform, "C12345678", "replaced", "E12345678")
    assert exc.value.code == "REPLACEMENT_CARD_INVALID"


def test_every_change_is_audited(platform: Platform, holder: str) -> None:
    change(platform, holder, "lost")
    change(platform, holder, "replaced", "C12345678")
    with platform.db.transaction() as s:
        entries = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "registry.card_status_changed").order_by(AuditEntry.seq)).all()
        assert [(e.details["from"], e.details["to"]) for e in entries] == [
            ("active", "lost"), ("lost", "replaced")]
        assert entries[1].details["replaced_by"] == "C1*****78"
        assert entries[0].actor_id == "tester"
        assert entries[0].subject is not None and entries[0].subject.startswith("person:")
        assert verify_chain(s).ok


def test_card_view_masks_personal_data(platform: Platform, holder: str) -> None:
    with platform.db.transaction() as s:
        view = card_view(s, platform.protector, holder)
        assert s.scalar(select(func.count()).select_from(Notification)) == 0
    assert view["card_no"] == "A1*****78"
    assert view["bank_account"] == "****3445"
    assert view["reserved_phone"] == "138****8000"
    assert view["holder"]["id_number"] == "1101**********" + make_id_number()[-4:]
    assert view["holder"]["name"] == "*三"
    assert view["ecards"] == {"active": 2, "unlinked": 1}
    text = repr(view)
    assert make_id_number() not in text and "张三" not in text
