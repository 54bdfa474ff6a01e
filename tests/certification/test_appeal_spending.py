"""An approved appeal of an issuance session leads to the card: the failed session
becomes spendable once, by the channel that started it, within the window after the
decision; the channel hears of the decision (without a sign_no: no e-card yet). A
rejected appeal leaves the session unusable. Through the operator API and POST /cards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.audit.services import Actor
from ecard.cards.models import ECard
from ecard.certification import services
from ecard.certification.interfaces import Action
from ecard.clock import FrozenClock
from ecard.notifications.models import Notification
from ecard.operators.services import add_operator
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN, OTHER_PIN, signed
from tests.certification.helpers import (
    HAMILTON,
    KATIE,
    SESSIONS,
    frame_bytes,
    katie_holder,
    setup_platform,
    upload,
)
from tests.support.channel_client import SignedClient
from tests.support.factories import Holder, make_holder, make_id_number

CARDS = "/api/v1/cards"
OPS = "/api/v1/operator/appeals"


@pytest.fixture
def katie(platform: Platform, faces_dir: Path) -> Holder:
    """In the registry with an enrolment photo, no e-card and no PIN yet."""
    return make_holder(platform, name="凯蒂", id_number=make_id_number("110101", "19480307"),
                       photo=faces_dir / "liveness" / KATIE / "frames" / "frame_00000.jpg")


@pytest.fixture
def client(app: Flask, platform: Platform, clock: FrozenClock,
           monkeypatch: pytest.MonkeyPatch) -> SignedClient:
    monkeypatch.setattr(services, "draw_actions", lambda _m, _r: [Action.TURN_RIGHT])
    channel = signed(app.test_client(), setup_platform(platform))
    channel.now = lambda: clock.now().timestamp()
    return channel


def _card_request(holder: Holder, sid: str) -> dict[str, Any]:
    return {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
            "pin": GOOD_PIN, "certification_session_id": sid}


def _appeal(client: SignedClient, holder: Holder, faces_dir: Path) -> tuple[list[str], int]:
    """Three failed issuance sessions (someone else's face): their ids and the appeal."""
    other = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122)]
    who = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
           "purpose": "issuance"}
    sids = []
    for _ in range(3):
        sid = client.post(SESSIONS, json=who).get_json()["session_id"]
        body = client.post(f"{SESSIONS}/{sid}/frames", json=upload(other)).get_json()
        assert body["passed"] is False
        sids.append(sid)
    assert body["next_step"]["kind"] == "appeal"
    return sids, int(body["next_step"]["appeal_id"])


def _decide(app: Flask, platform: Platform, appeal_id: int, decision: str) -> Any:
    with platform.db.transaction() as session:
        _, token = add_operator(session, platform.clock, f"reviewer-{decision}",
                                Actor.system())
    return app.test_client().post(f"{OPS}/{appeal_id}/decision",
                                  json={"decision": decision},
                                  headers={"Authorization": f"Bearer {token}"})


def test_an_approved_issuance_appeal_lets_its_channel_issue_the_card_once(
        app: Flask, platform: Platform, client: SignedClient, katie: Holder,
        faces_dir: Path) -> None:
    sids, appeal_id = _appeal(client, katie, faces_dir)
    waiting = client.post(CARDS, json=_card_request(katie, sids[-1]))
    assert (waiting.status_code, waiting.get_json()["details"]) == (
        422, {"reason": "appeal_open"})

    res = _decide(app, platform, appeal_id, "approve")
    assert res.status_code == 200, res.get_json()
    decided = res.get_json()
    assert decided["status"] == "approved" and "entitlement" not in decided
    assert decided["spendable_until"] is not None
    with platform.db.session() as session:
        note = session.scalars(select(Notification).where(
            Notification.event == "certification_appeal_decided")).one()
        # no e-card yet: the channel's own stream, keyed by the session it started
        assert note.sign_no is None
        assert note.payload["session_id"] == sids[-1]
        assert note.payload["outcome"] == "approved"
        assert note.payload["purpose"] == "issuance"
        assert note.payload["spendable_until"] is not None
        assert "openid" not in note.payload and katie.id_number not in str(note.payload)

    # the earlier failed sessions of the day stay failed: the appeal was opened from
    # the third
    early = client.post(CARDS, json=_card_request(katie, sids[0]))
    assert early.get_json()["details"] == {"reason": "not_passed"}
    issued = client.post(CARDS, json=_card_request(katie, sids[-1]))
    assert issued.status_code == 201, issued.get_json()
    assert issued.get_json()["event"] == "issued"
    assert issued.get_json()["face_score"] is None  # no frame matched; a person decided
    with platform.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "ecard.issued")).one()
        assert entry.details["certification_appeal_id"] == appeal_id
        assert entry.details["certification_session_id"] == sids[-1]
        assert session.scalars(select(ECard)).one().face_score is None


def test_the_approved_session_is_spendable_only_within_the_window(
        app: Flask, platform: Platform, client: SignedClient, katie: Holder,
        faces_dir: Path, clock: FrozenClock) -> None:
    sids, appeal_id = _appeal(client, katie, faces_dir)
    assert _decide(app, platform, appeal_id, "approve").status_code == 200
    window = int(platform.config["CERTIFICATION_APPEAL_SPEND_WINDOW_S"])
    assert window == 72 * 3600
    clock.advance(seconds=window + 1)
    late = client.post(CARDS, json=_card_request(katie, sids[-1]))
    assert (late.status_code, late.get_json()["code"], late.get_json()["details"]) == (
        422, "CERTIFICATION_SESSION_INVALID", {"reason": "too_old"})
    with platform.db.session() as session:
        assert session.scalars(select(ECard)).all() == []


def test_a_rejected_issuance_appeal_leaves_the_session_unusable(
        app: Flask, platform: Platform, client: SignedClient, katie: Holder,
        faces_dir: Path) -> None:
    sids, appeal_id = _appeal(client, katie, faces_dir)
    res = _decide(app, platform, appeal_id, "reject")
    assert res.status_code == 200 and res.get_json()["status"] == "rejected"
    assert "spendable_until" not in res.get_json()
    refused = client.post(CARDS, json=_card_request(katie, sids[-1]))
    assert (refused.status_code, refused.get_json()["details"]) == (
        422, {"reason": "appeal_rejected"})
    with platform.db.session() as session:
        assert session.scalars(select(ECard)).all() == []
        note = session.scalars(select(Notification).where(
            Notification.event == "certification_appeal_decided")).one()
        assert note.payload["outcome"] == "rejected"
        assert note.payload["spendable_until"] is None


def test_an_approved_pin_reset_appeal_lets_the_holder_set_a_new_pin(
        app: Flask, platform: Platform, faces_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With an e-card: the notification is on the card's stream (sign_no, openid)."""
    monkeypatch.setattr(services, "draw_actions", lambda _m, _r: [Action.TURN_RIGHT])
    channel = setup_platform(platform)
    _, sign_no = katie_holder(platform, faces_dir, channel, recipient=False)
    client = signed(app.test_client(), channel)
    other = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122)]
    for _ in range(3):
        sid = client.post(SESSIONS, json={"sign_no": sign_no, "purpose": "pin_reset"}
                          ).get_json()["session_id"]
        body = client.post(f"{SESSIONS}/{sid}/frames", json=upload(other)).get_json()
    appeal_id = body["next_step"]["appeal_id"]
    assert _decide(app, platform, appeal_id, "approve").get_json()["spendable_until"]
    with platform.db.session() as session:
        note = session.scalars(select(Notification).where(
            Notification.event == "certification_appeal_decided")).one()
        card = session.scalars(select(ECard)).one()
        assert note.sign_no == sign_no and note.payload["openid"] == card.openid
        assert (note.payload["purpose"], note.payload["outcome"]) == ("pin_reset", "approved")
    reset = client.post(f"{CARDS}/{sign_no}/pin/reset",
                        json={"certification_session_id": sid, "new_pin": OTHER_PIN})
    assert reset.status_code == 200, reset.get_json()
    assert client.post(f"{CARDS}/{sign_no}/pin/verify",
                       json={"pin": OTHER_PIN}).status_code == 200
    again = client.post(f"{CARDS}/{sign_no}/pin/reset",
                        json={"certification_session_id": sid, "new_pin": GOOD_PIN})
    assert again.get_json()["details"] == {"reason": "used"}
    with platform.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "pin.reset")).one()
        assert entry.details["certification_appeal_id"] == appeal_id
