"""Real person at issuance, end to end through the API on real frames: a liveness
session of purpose ``issuance`` (started with name, ID and card number, before any
e-card exists), then ``POST /cards`` with its id. Also the PIN reset's session.

katiehill is enrolled from her frame 0 (see ``helpers.py``); the frames sent are the
ones ``test_sessions.py`` shows to pass for blink then open mouth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.cards.models import ECard
from ecard.certification import services
from ecard.certification.interfaces import Action
from ecard.certification.models import CertificationSession
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN, OTHER_PIN, make_channel, signed
from tests.certification.helpers import (
    BLINK_THEN_MOUTH,
    HAMILTON,
    KATIE,
    SESSIONS,
    frame_bytes,
    setup_platform,
    upload,
)
from tests.support.channel_client import SignedClient
from tests.support.factories import Holder, make_holder, make_id_number

CARDS = "/api/v1/cards"
GENUINE = (14, 24, 92, 148, 168)  # blink at 24, open mouth at 168


@pytest.fixture
def katie(platform: Platform, faces_dir: Path) -> Holder:
    return make_holder(platform, name="凯蒂", id_number=make_id_number("110101", "19480307"),
                       photo=faces_dir / "liveness" / KATIE / "frames" / "frame_00000.jpg")


@pytest.fixture
def client(app: Flask, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> SignedClient:
    channel = setup_platform(platform)
    monkeypatch.setattr(services, "draw_actions", lambda _m, _r: list(BLINK_THEN_MOUTH))
    return signed(app.test_client(), channel)


def _who(holder: Holder) -> dict[str, str]:
    return {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no}


def _decide(client: SignedClient, faces_dir: Path, holder: Holder, frames: list[bytes],
            **start: Any) -> tuple[str, dict[str, Any]]:
    res = client.post(SESSIONS, json={**_who(holder), "purpose": "issuance", **start})
    assert res.status_code == 201, res.get_json()
    sid: str = res.get_json()["session_id"]
    body = client.post(f"{SESSIONS}/{sid}/frames", json=upload(frames)).get_json()
    return sid, body


def test_a_first_e_card_needs_a_passed_session_of_that_person(
        client: SignedClient, katie: Holder, faces_dir: Path, platform: Platform) -> None:
    res = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN})
    assert (res.status_code, res.get_json()["code"]) == (422, "CERTIFICATION_SESSION_REQUIRED")

    started = client.post(SESSIONS, json={**_who(katie), "purpose": "issuance"}).get_json()
    assert started["purpose"] == "issuance" and started["actions"] == ["blink", "open_mouth"]
    sid = started["session_id"]
    # not decided yet: nothing to spend
    early = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN,
                                     "certification_session_id": sid})
    assert early.get_json()["details"] == {"reason": "not_passed"}
    decision = client.post(f"{SESSIONS}/{sid}/frames", json=upload(
        [frame_bytes(faces_dir, KATIE, i) for i in GENUINE])).get_json()
    assert decision["passed"] is True and "entitlement" not in decision, decision
    score = decision["scores"]["max_distance"]

    res = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN,
                                   "certification_session_id": sid})
    assert res.status_code == 201, res.get_json()
    card = res.get_json()
    assert card["event"] == "issued" and card["face_score"] == pytest.approx(score, abs=1e-4)
    with platform.db.session() as session:
        assert session.get_one(CertificationSession, sid).used_at is not None
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "ecard.issued")).one()
        assert entry.details["certification_session_id"] == sid
        assert entry.details["face_score"] == card["face_score"]
        ecard = session.scalars(select(ECard)).one()
        assert ecard.face_score == card["face_score"]


def test_a_failed_or_foreign_session_issues_nothing(
        client: SignedClient, katie: Holder, faces_dir: Path, platform: Platform,
        app: Flask) -> None:
    impostor = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122, 113)]
    sid, decision = _decide(client, faces_dir, katie, impostor)
    assert decision["passed"] is False and decision["reason"] == "FACE_MISMATCH"
    assert decision["next_step"]["kind"] == "elder_mode"  # step down, as for entitlement
    res = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN,
                                   "certification_session_id": sid})
    assert (res.status_code, res.get_json()["details"]) == (422, {"reason": "not_passed"})
    # a passed session started by another channel is not this channel's to spend
    other = signed(app.test_client(), make_channel(platform, "2000000002", type="government"))
    theirs, passed = _decide(other, faces_dir, katie,
                             [frame_bytes(faces_dir, KATIE, i) for i in GENUINE])
    assert passed["passed"] is True
    res = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN,
                                   "certification_session_id": theirs})
    assert res.get_json()["details"] == {"reason": "not_found"}
    with platform.db.session() as session:
        assert session.scalars(select(ECard)).all() == []


def test_starting_an_issuance_session_checks_the_registry(
        client: SignedClient, katie: Holder, platform: Platform) -> None:
    res = client.post(SESSIONS, json={**_who(katie), "name": "李四", "purpose": "issuance"})
    assert (res.status_code, res.get_json()["code"]) == (422, "IDENTITY_MISMATCH")
    res = client.post(SESSIONS, json={"name": katie.name, "purpose": "issuance"})
    assert res.get_json()["code"] == "VALIDATION_FAILED"
    bare = make_holder(platform, id_number=make_id_number("110101", "19500101", "021"),
                       card_no="B12345678")  # no enrolment photo
    res = client.post(SESSIONS, json={**_who(bare), "purpose": "issuance"})
    assert (res.status_code, res.get_json()["code"]) == (409, "ENROLMENT_PHOTO_MISSING")
    with platform.db.session() as session:
        assert session.scalars(select(CertificationSession)).all() == []


def test_a_passed_session_is_usable_for_ten_minutes(
        client: SignedClient, katie: Holder, faces_dir: Path, clock: FrozenClock) -> None:
    client.now = lambda: clock.now().timestamp()
    sid, decision = _decide(client, faces_dir, katie,
                            [frame_bytes(faces_dir, KATIE, i) for i in GENUINE])
    assert decision["passed"]
    clock.advance(seconds=601)
    res = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN,
                                   "certification_session_id": sid})
    assert res.get_json()["details"] == {"reason": "too_old"}


def test_pin_reset_spends_a_pin_reset_session(
        client: SignedClient, katie: Holder, faces_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issued with one session, the PIN reset with a second one (other real frames:
    frames of the first are replays now): turn to her right (45), then her left (176)."""
    sid, _ = _decide(client, faces_dir, katie,
                     [frame_bytes(faces_dir, KATIE, i) for i in GENUINE])
    card = client.post(CARDS, json={**_who(katie), "pin": GOOD_PIN,
                                    "certification_session_id": sid}).get_json()
    reset = f"{CARDS}/{card['sign_no']}/pin/reset"
    monkeypatch.setattr(services, "draw_actions",
                        lambda _m, _r: [Action.TURN_RIGHT, Action.TURN_LEFT])
    res = client.post(SESSIONS, json={"sign_no": card["sign_no"], "purpose": "pin_reset"})
    assert res.status_code == 201 and res.get_json()["actions"] == ["turn_right", "turn_left"]
    rid = res.get_json()["session_id"]
    decision = client.post(f"{SESSIONS}/{rid}/frames", json=upload(
        [frame_bytes(faces_dir, KATIE, i) for i in (10, 45, 100, 176)])).get_json()
    assert decision["passed"] is True, decision
    res = client.post(reset, json={"certification_session_id": sid, "new_pin": OTHER_PIN})
    assert res.get_json()["details"] == {"reason": "other_purpose"}  # the issuance one
    res = client.post(reset, json={"certification_session_id": rid, "new_pin": OTHER_PIN})
    assert res.status_code == 200, res.get_json()
    verify = client.post(f"{CARDS}/{card['sign_no']}/pin/verify", json={"pin": OTHER_PIN})
    assert verify.status_code == 200
