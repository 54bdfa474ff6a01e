"""Issuance cost through the API: ``issue_card_p50_ms`` with a real face image (first
issuance: registry match, face detection + encoding, Argon2id PIN hash, writes), the
share of it spent in the face engine, and one Argon2id hash on its own."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from flask import Flask

from ecard.cards.pin import make_hasher
from ecard.faces.interfaces import DetectedFace, FaceEngine
from ecard.platform import Platform
from tests.bench.conftest import merge_results
from tests.cards.helpers import ENROL, GOOD_PIN, LIVE, CachingFaceEngine, b64, make_channel
from tests.support.channel_client import SignedClient
from tests.support.factories import make_holder, make_id_number

pytestmark = pytest.mark.bench

ISSUANCES = 20


class TimedFaceEngine:
    """The real engine (no cache), with the time spent in it added up."""

    def __init__(self, inner: FaceEngine) -> None:
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_issue_card_latency_and_face_share(app: Flask, faces_dir: Path) -> None:
    platform: Platform = app.extensions["ecard"]
    real_engine = platform.faces
    platform.faces = CachingFaceEngine(real_engine)  # enrol 20 holders from one photo
    holders = [make_holder(platform, id_number=make_id_number("110101", "19550307", f"{i:03d}"),
                           card_no=f"A{i:08d}", photo=faces_dir / ENROL)
               for i in range(ISSUANCES)]
    client = SignedClient(app.test_client(), make_channel(platform, "1000000001"))
    live = b64(faces_dir / LIVE)
    timed = TimedFaceEngine(real_engine)
    platform.faces = timed
    durations = []
    for holder in holders:
        body = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
                "face_image": live, "pin": GOOD_PIN}
        start = time.perf_counter()
        res = client.post("/api/v1/cards", json=body)
        durations.append(time.perf_counter() - start)
        assert res.status_code == 201, res.get_json()
    assert timed.calls == ISSUANCES
    p50_ms = statistics.median(durations) * 1000
    share = timed.seconds / sum(durations)
    merge_results({"issue_card_p50_ms": round(p50_ms, 1),
                   "issue_card_p90_ms": round(statistics.quantiles(durations, n=10)[-1] * 1000,
                                              1),
                   "issue_card_face_share": round(share, 3),
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
