"""Three failed sessions in a day open an appeal; an operator reviews it through the
operator API (every face image view audited) and approves it as a pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.audit.services import Actor
from ecard.certification import services
from ecard.certification.interfaces import Action
from ecard.certification.models import AppealFrame, BenefitRecipient
from ecard.operators.services import add_operator
from ecard.platform import Platform
from tests.cards.helpers import signed
from tests.certification.helpers import (
    HAMILTON,
    SESSIONS,
    frame_bytes,
    katie_holder,
    setup_platform,
    upload,
)

OPS = "/api/v1/operator/appeals"


def test_three_failures_open_an_appeal_reviewed_by_an_operator(
        app: Flask, platform: Platform, faces_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    channel = setup_platform(platform)
    holder, sign_no = katie_holder(platform, faces_dir, channel)
    client = signed(app.test_client(), channel)
    monkeypatch.setattr(services, "draw_actions", lambda _m, _r: [Action.TURN_RIGHT])
    other = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122)]
    steps = []
    for mode in ("standard", "elder", "elder"):
        s = client.post(SESSIONS, json={"sign_no": sign_no, "mode": mode}).get_json()
        steps.append(client.post(f"{SESSIONS}/{s['session_id']}/frames",
                                 json=upload(other)).get_json()["next_step"])
    appeal_id = steps[-1]["appeal_id"]
    with platform.db.session() as session:
        kept = session.scalars(select(AppealFrame).where(AppealFrame.appeal_id == appeal_id)
                               ).all()
        assert len(kept) == 2 and all(other[0] not in k.image_enc for k in kept)
    with platform.db.transaction() as session:
        _, token = add_operator(session, platform.clock, "reviewer1", Actor.system())
    auth = {"Authorization": f"Bearer {token}"}
    ops = app.test_client()
    listed = ops.get(f"{OPS}?status=open", headers=auth).get_json()["appeals"]
    assert [a["id"] for a in listed] == [appeal_id]
    assert listed[0]["person"]["id_masked"].count("*") == 10
    detail = ops.get(f"{OPS}/{appeal_id}", headers=auth).get_json()
    assert len(detail["attempts"]) == 3 and detail["frames"][0]["distance"] > 0.5
    frame = ops.get(f"{OPS}/{appeal_id}/frames/0", headers=auth)
    assert frame.status_code == 200 and frame.data == other[0]
    assert frame.mimetype == "image/jpeg"
    photo = ops.get(f"{OPS}/{appeal_id}/enrolment-photo", headers=auth)
    assert photo.status_code == 200 and photo.data[:2] == b"\xff\xd8"
    assert ops.get(f"{OPS}/{appeal_id}/frames/9", headers=auth).status_code == 404
    with platform.db.session() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(
            ("appeal.frame_viewed", "appeal.enrolment_photo_viewed")))).all()
        assert [(v.actor_type, v.actor_id) for v in views] == [("operator", "reviewer1")] * 2
        before = session.scalars(select(BenefitRecipient)).one().certified_until
    res = ops.post(f"{OPS}/{appeal_id}/decision", json={"decision": "approve",
                                                        "note": "same person, poor light"},
                   headers=auth)
    assert res.status_code == 200 and res.get_json()["status"] == "approved"
    assert res.get_json()["entitlement"]["source"] == f"appeal:{appeal_id}"
    with platform.db.session() as session:
        assert session.scalars(select(BenefitRecipient)).one().certified_until > before
    again = ops.post(f"{OPS}/{appeal_id}/decision", json={"decision": "reject"}, headers=auth)
    assert (again.status_code, again.get_json()["code"]) == (409, "APPEAL_ALREADY_DECIDED")
    assert holder.person_id > 0


def test_an_approved_issuance_appeal_certifies_no_pension(
        app: Flask, platform: Platform, faces_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Three failed issuance checks open an appeal too; approving it records the
    operator's decision but extends no entitlement (that needs a pension check)."""
    channel = setup_platform(platform)
    holder, _ = katie_holder(platform, faces_dir, channel)
    client = signed(app.test_client(), channel)
    monkeypatch.setattr(services, "draw_actions", lambda _m, _r: [Action.TURN_RIGHT])
    other = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122)]
    who = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
           "purpose": "issuance"}
    for _ in range(3):
        s = client.post(SESSIONS, json=who).get_json()
        step = client.post(f"{SESSIONS}/{s['session_id']}/frames",
                           json=upload(other)).get_json()["next_step"]
    assert step["kind"] == "appeal"
    with platform.db.transaction() as session:
        _, token = add_operator(session, platform.clock, "reviewer2", Actor.system())
        before = session.scalars(select(BenefitRecipient)).one().certified_until
    res = app.test_client().post(f"{OPS}/{step['appeal_id']}/decision",
                                 json={"decision": "approve"},
                                 headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200 and res.get_json()["status"] == "approved"
    assert "entitlement" not in res.get_json()
    with platform.db.session() as session:
        assert session.scalars(select(BenefitRecipient)).one().certified_until == before
