"""Certification sessions through the API, on real frames of the shared set.

Frames of katiehill (see ``tests/certification/helpers.py`` for her template) are sent
in the order listed, as if captured in that order; the actions a session asks are
fixed by replacing the random draw, so each test knows which real frames show them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ecard.audit.models import AuditEntry
from ecard.certification import services
from ecard.certification.interfaces import Action
from ecard.certification.models import CertificationAttempt, CertificationSession
from ecard.certification.prompts import draw_actions
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.cards.helpers import signed
from tests.certification.helpers import (
    BLINK_THEN_MOUTH,
    HAMILTON,
    KATIE,
    SESSIONS,
    frame_bytes,
    katie_holder,
    reencoded,
    setup_platform,
    upload,
)
from tests.support.channel_client import SignedClient

Start = Callable[..., dict[str, Any]]


@pytest.fixture
def world(app: Flask, platform: Platform, faces_dir: Path) -> tuple[SignedClient, str]:
    channel = setup_platform(platform)
    _, sign_no = katie_holder(platform, faces_dir, channel)
    return signed(app.test_client(), channel), sign_no


@pytest.fixture
def start(world: tuple[SignedClient, str], monkeypatch: pytest.MonkeyPatch) -> Start:
    client, sign_no = world

    def run(actions: list[Action], mode: str = "standard", **kw: Any) -> dict[str, Any]:
        monkeypatch.setattr(services, "draw_actions", lambda _mode, _rng: list(actions))
        res = client.post(SESSIONS, json={"sign_no": sign_no, "mode": mode, **kw})
        assert res.status_code == 201, res.get_json()
        body: dict[str, Any] = res.get_json()
        return body
    return run


def _send(client: SignedClient, session_id: str, frames: list[bytes], **kw: Any) -> Any:
    return client.post(f"{SESSIONS}/{session_id}/frames", json=upload(frames) | kw)


def _katie(faces_dir: Path, *indices: int) -> list[bytes]:
    return [frame_bytes(faces_dir, KATIE, i) for i in indices]


def test_genuine_session_passes_and_records_scores(
        world: tuple[SignedClient, str], start: Start, faces_dir: Path,
        platform: Platform) -> None:
    client, _ = world
    s = start(BLINK_THEN_MOUTH)
    assert s["actions"] == ["blink", "open_mouth"] and len(s["nonce"]) >= 24
    assert [p["text"] for p in s["prompts"]["steps"]] == ["请眨眨眼", "请张张嘴"]
    res = _send(client, s["session_id"], _katie(faces_dir, 14, 24, 92, 148, 168))
    assert res.status_code == 200
    body = res.get_json()
    assert body["passed"] is True and body["reason"] is None, body
    assert 0 < body["scores"]["max_distance"] <= 0.5 and body["scores"]["threshold"] == 0.5
    assert body["entitlement"]["status"] == "valid"
    with platform.db.session() as session:
        attempt = session.scalars(select(CertificationAttempt)).one()
        assert attempt.passed and attempt.max_distance == pytest.approx(
            body["scores"]["max_distance"], abs=1e-3)
        assert attempt.age_band == "70-79" and attempt.frame_count == 5
        actions = [e.action for e in session.scalars(select(AuditEntry))]
        assert "certification.passed" in actions
    # used once: the same session cannot be decided again
    again = _send(client, s["session_id"], _katie(faces_dir, 14, 24, 92, 148, 168))
    assert (again.status_code, again.get_json()["code"]) == (409, "SESSION_ALREADY_DECIDED")


def test_head_turns_pass_and_wrong_order_fails(world: tuple[SignedClient, str], start: Start,
                                               faces_dir: Path) -> None:
    """45: turned to her own right; 176: to her own left."""
    client, _ = world
    ok = start([Action.TURN_RIGHT, Action.TURN_LEFT])
    assert _send(client, ok["session_id"], _katie(faces_dir, 14, 45, 92, 176)
                 ).get_json()["passed"] is True
    # blink at 32, mouth opened at 168, but mouth was asked first (fresh frames)
    wrong = start([Action.OPEN_MOUTH, Action.BLINK])
    body = _send(client, wrong["session_id"], _katie(faces_dir, 10, 32, 100, 120, 167)
                 ).get_json()
    assert body["passed"] is False and body["reason"] == "ACTIONS_OUT_OF_ORDER", body
    assert body["message_zh"] and body["next_step"]["kind"] == "elder_mode"


def test_another_persons_face_fails(world: tuple[SignedClient, str], start: Start,
                                    faces_dir: Path) -> None:
    client, _ = world
    s = start([Action.TURN_RIGHT, Action.OPEN_MOUTH])
    frames = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122, 150, 113)]
    body = _send(client, s["session_id"], frames).get_json()
    assert not body["passed"] and body["reason"] == "FACE_MISMATCH"
    assert body["scores"]["max_distance"] > 0.5
    assert "not match" in body["message_en"]


def test_a_still_repeated_fails(world: tuple[SignedClient, str], start: Start,
                                faces_dir: Path) -> None:
    """Frame 92 five times: the file twice and re-encoded at JPEG quality 85, 70, 50."""
    client, _ = world
    data = frame_bytes(faces_dir, KATIE, 92)
    s = start(BLINK_THEN_MOUTH)
    body = _send(client, s["session_id"], [data, reencoded(data, 85), data,
                                           reencoded(data, 70), reencoded(data, 50)]).get_json()
    assert not body["passed"] and body["reason"] == "NO_MOTION"


def test_frames_replayed_from_an_earlier_session_fail(world: tuple[SignedClient, str],
                                                      start: Start, faces_dir: Path) -> None:
    client, _ = world
    frames = _katie(faces_dir, 14, 24, 92, 148, 168)
    first = start(BLINK_THEN_MOUTH)
    assert _send(client, first["session_id"], frames).get_json()["passed"]
    second = start(BLINK_THEN_MOUTH)
    copy = [*frames[:4], reencoded(frames[4], 75)]  # other bytes, the same picture
    body = _send(client, second["session_id"], copy).get_json()
    assert not body["passed"] and body["reason"] == "FRAME_REPLAYED"
    assert body["scores"]["replayed_frames"] == [0, 1, 2, 3, 4]


def test_an_expired_session_fails_too_late(world: tuple[SignedClient, str], start: Start,
                                           faces_dir: Path, clock: FrozenClock,
                                           platform: Platform) -> None:
    client, _ = world
    client.now = lambda: clock.now().timestamp()  # channel tokens follow the clock
    s = start(BLINK_THEN_MOUTH)
    clock.advance(seconds=61)
    body = _send(client, s["session_id"], _katie(faces_dir, 14, 24, 92, 148, 168)).get_json()
    assert not body["passed"] and body["reason"] == "SESSION_EXPIRED"
    assert "deadline" in body["message_en"]
    with platform.db.session() as session:
        row = session.get_one(CertificationSession, s["session_id"])
        assert row.status == "decided" and row.passed is False


def test_two_faces_fail_with_their_own_reason(world: tuple[SignedClient, str], start: Start,
                                              faces_dir: Path) -> None:
    client, _ = world
    s = start([Action.BLINK])
    two = (faces_dir / "special" / "multi_face" / "two_people.jpg").read_bytes()
    body = _send(client, s["session_id"], [*_katie(faces_dir, 14, 24, 92), two]).get_json()
    assert not body["passed"] and body["reason"] == "FACE_MULTIPLE"
    assert "only you" in body["message_en"]


def test_elder_mode_one_action_long_deadline_spoken_prompts(
        world: tuple[SignedClient, str], start: Start, faces_dir: Path,
        platform: Platform) -> None:
    client, _ = world
    s = start([Action.OPEN_MOUTH], mode="elder")
    assert s["mode"] == "elder" and s["actions"] == ["open_mouth"]
    step = s["prompts"]["steps"][0]
    assert step["hold_s"] >= 2 and "不着急" in step["speak"] and not s["prompts"]["countdown"]
    assert s["prompts"]["speech_rate"] < 1
    body = _send(client, s["session_id"], _katie(faces_dir, 92, 148, 168)).get_json()
    assert body["passed"] and body["scores"]["threshold"] == 0.5  # never loosened


def test_elder_mode_waits_five_minutes_and_never_loosens_identity(
        world: tuple[SignedClient, str], start: Start, faces_dir: Path, clock: FrozenClock,
        platform: Platform) -> None:
    """Standard sessions end after 60 s; an elder session is still open after 200 s and
    passes, while another person's face fails it at the same 0.5 threshold."""
    client, _ = world
    client.now = lambda: clock.now().timestamp()
    t0 = clock.now()
    standard = start([Action.OPEN_MOUTH])
    elder = start([Action.TURN_RIGHT], mode="elder")
    assert _deadline_s(standard, t0) == 60 and _deadline_s(elder, t0) == 300
    clock.advance(seconds=200)
    late = _send(client, standard["session_id"], _katie(faces_dir, 92, 148, 168)).get_json()
    assert late["reason"] == "SESSION_EXPIRED"
    body = _send(client, elder["session_id"], _katie(faces_dir, 120, 45, 100)).get_json()
    assert body["passed"] is True, body
    impostor = start([Action.TURN_RIGHT], mode="elder")
    other = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122)]
    failed = _send(client, impostor["session_id"], other).get_json()
    assert failed["reason"] == "FACE_MISMATCH" and failed["scores"]["threshold"] == 0.5
    assert failed["scores"]["max_distance"] > 0.5


def _deadline_s(started: dict[str, Any], t0: Any) -> float:
    from datetime import datetime
    deadline = datetime.fromisoformat(started["deadline"])
    return round((deadline - t0).total_seconds())


def test_step_down_then_appeal(world: tuple[SignedClient, str], start: Start,
                               faces_dir: Path, platform: Platform) -> None:
    client, _ = world
    other = [frame_bytes(faces_dir, HAMILTON, i) for i in (150, 122)]
    kinds = []
    for mode in ("standard", "elder", "elder"):
        s = start([Action.TURN_RIGHT], mode=mode)
        kinds.append(_send(client, s["session_id"], other).get_json()["next_step"])
    assert [k["kind"] for k in kinds] == ["elder_mode", "family_assist", "appeal"]
    assert kinds[0]["failures_before_appeal"] == 2
    assert isinstance(kinds[2]["appeal_id"], int) and kinds[2]["appeal_status"] == "open"


def test_limits_and_refusals(world: tuple[SignedClient, str], start: Start,
                             faces_dir: Path, platform: Platform) -> None:
    client, _ = world
    s = start([Action.BLINK])
    too_many = _send(client, s["session_id"], _katie(faces_dir, *range(14, 27)))
    assert too_many.status_code == 422
    big = b"\xff\xd8" + b"0" * (1024 * 1024 + 10)
    res = _send(client, s["session_id"], [big])
    assert (res.status_code, res.get_json()["code"]) == (413, "IMAGE_TOO_LARGE")
    res = _send(client, "cs_nope", _katie(faces_dir, 14))
    assert (res.status_code, res.get_json()["code"]) == (404, "SESSION_NOT_FOUND")
    with platform.db.session() as session:  # refusals decided nothing
        assert session.scalar(select(func.count()).select_from(CertificationAttempt)) == 0
    res = client.post(SESSIONS, json={"sign_no": "NOPE", "mode": "standard"})
    assert res.get_json()["code"] == "ECARD_NOT_FOUND"


def test_the_random_draw() -> None:
    rng = random.Random(7)
    for _ in range(300):
        actions = draw_actions("standard", rng)
        assert 2 <= len(actions) <= 3
        assert all(a is not b for a, b in itertools.pairwise(actions))
        elder = draw_actions("elder", rng)
        assert len(elder) == 1 and elder[0] is not Action.BLINK
    seen = {tuple(draw_actions("standard", rng)) for _ in range(300)}
    assert len(seen) > 20
