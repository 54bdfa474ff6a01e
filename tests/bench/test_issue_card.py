"""Issuance cost through the API, real person included: for each of 12 holders, a
liveness session of purpose ``issuance`` (start, 5 real frames, decision) and then
``POST /cards`` with its id (registry match, the session spent, Argon2id PIN hash,
writes). ``issue_card_p50_ms`` is ``POST /cards`` alone, ``issuance_flow_p50_ms`` the
three calls, ``issue_card_face_share`` the share of the flow spent in the face engine
(detection, encoding, landmarks); one Argon2id hash on its own beside them."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from flask import Flask

from ecard.cards.pin import make_hasher
from ecard.certification import services
from ecard.faces.engine import DlibFaceEngine
from ecard.faces.interfaces import DetectedFace, FaceBox
from ecard.platform import Platform
from tests.bench.conftest import merge_results
from tests.cards.helpers import GOOD_PIN, make_channel
from tests.certification.helpers import (
    BLINK_THEN_MOUTH,
    KATIE,
    SESSIONS,
    CachingLandmarkEngine,
    frame_bytes,
    upload,
)
from tests.support.channel_client import SignedClient
from tests.support.factories import make_holder, make_id_number

pytestmark = pytest.mark.bench

ISSUANCES = 12
GENUINE = (14, 24, 92, 148, 168)  # katiehill: blink at 24, open mouth at 168


class TimedFaceEngine:
    """The real engine (no cache), with the time spent in it added up."""

    def __init__(self, inner: DlibFaceEngine) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def detect_and_encode(self, rgb: npt.NDArray[np.uint8]) -> list[DetectedFace]:
        start = time.perf_counter()
        try:
            return self.inner.detect_and_encode(rgb)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def landmarks(self, rgb: npt.NDArray[np.uint8], box: FaceBox) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            return self.inner.landmarks(rgb, box)
        finally:
            self.seconds += time.perf_counter() - start


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_issue_card_latency_and_face_share(app: Flask, faces_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    platform: Platform = app.extensions["ecard"]
    real_engine = DlibFaceEngine()
    enrolment = faces_dir / "liveness" / KATIE / "frames" / "frame_00000.jpg"
    platform.faces = CachingLandmarkEngine()  # enrol 12 holders from one photo
    holders = [make_holder(platform, id_number=make_id_number("110101", "19550307", f"{i:03d}"),
                           card_no=f"A{i:08d}", photo=enrolment)
               for i in range(ISSUANCES)]
    client = SignedClient(app.test_client(), make_channel(platform, "1000000001"))
    monkeypatch.setattr(services, "draw_actions", lambda _m, _r: list(BLINK_THEN_MOUTH))
    frames = upload([frame_bytes(faces_dir, KATIE, i) for i in GENUINE])
    timed = TimedFaceEngine(real_engine)
    platform.faces = timed
    issue, flow = [], []
    for holder in holders:
        who = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no}
        start = time.perf_counter()
        sid = client.post(SESSIONS, json={**who, "purpose": "issuance"}).get_json()["session_id"]
        decided = client.post(f"{SESSIONS}/{sid}/frames", json=frames).get_json()
        assert decided["passed"], decided
        before_issue = time.perf_counter()
        res = client.post("/api/v1/cards", json={**who, "pin": GOOD_PIN,
                                                 "certification_session_id": sid})
        end = time.perf_counter()
        assert res.status_code == 201, res.get_json()
        issue.append(end - before_issue)
        flow.append(end - start)
    assert timed.calls == ISSUANCES * len(GENUINE)
    merge_results({"issue_card_p50_ms": round(statistics.median(issue) * 1000, 1),
                   "issue_card_p90_ms": round(statistics.quantiles(issue, n=10)[-1] * 1000, 1),
                   "issuance_flow_p50_ms": round(statistics.median(flow) * 1000, 1),
                   "issue_card_face_share": round(timed.seconds / sum(flow), 3),
                   "issue_card_face_ms": round(timed.seconds / timed.calls * 1000, 1)})


def test_argon2_hash_ms() -> None:
    hasher = make_hasher()
    hasher.hash("000000")  # warm-up
    times = []
    for i in range(10):
        start = time.perf_counter()
        hasher.hash(f"{i:06d}")
        times.append(time.perf_counter() - start)
    merge_results({"argon2_hash_ms": round(statistics.median(times) * 1000, 1)})
