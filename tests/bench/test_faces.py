"""Face benchmarks: the certification pipeline against raw face_recognition, and the
matcher's error rates on the shared set. Writes into bench/results.json.

The raw baseline is face_recognition alone on an already decoded 640x360 frame
(face_locations then face_encodings at those locations, the library defaults). Our
figure is the whole per-frame analysis from the uploaded bytes: validation and decode,
one detection, encoding, 68 landmarks, liveness measures, sha256 and perceptual hash.
Both run interleaved in the same process so that load from other work on the machine
falls on both alike; each figure is the median of the runs.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecard.certification.analysis import analyse_frame, decide_session
from ecard.certification.interfaces import Action
from ecard.cli import main
from ecard.config import DEFAULTS
from ecard.faces.engine import DlibFaceEngine, face_recognition_module
from ecard.faces.images import load_rgb
from ecard.faces.services import single_face
from tests.bench.conftest import merge_results

pytestmark = pytest.mark.bench

MAX_BYTES = int(DEFAULTS["MAX_IMAGE_BYTES"])
THRESHOLD = float(DEFAULTS["FACE_THRESHOLD_ISSUANCE"])
RUNS = 10



def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def test_certification_frame_against_raw_encoding(faces_dir: Path) -> None:
    fr = face_recognition_module()
    engine = DlibFaceEngine()
    data = (faces_dir / "liveness" / "hamilton_short" / "frames" / "frame_00150.jpg").read_bytes()
    rgb = load_rgb(data, max_bytes=MAX_BYTES)
    assert rgb.shape[1] == 640

    def raw() -> object:
        return fr.face_encodings(rgb, known_face_locations=fr.face_locations(rgb))

    def ours() -> object:
        frame = analyse_frame(data, index=0, engine=engine, max_bytes=MAX_BYTES)
        assert frame.usable
        return frame

    raw()
    ours()  # warm-up: models loaded, caches filled
    raw_ms: list[float] = []
    our_ms: list[float] = []
    for _ in range(RUNS):
        raw_ms.append(_ms(raw))
        our_ms.append(_ms(ours))
    raw_med, our_med = statistics.median(raw_ms), statistics.median(our_ms)

    session_frames = [(faces_dir / "liveness" / "wda_katiehill" / "frames" /
                       f"frame_{i:05d}.jpg").read_bytes() for i in (14, 24, 92, 148, 168)]
    template = single_face(engine, load_rgb(
        (faces_dir / "liveness" / "wda_katiehill" / "frames" / "frame_00000.jpg").read_bytes(),
        max_bytes=MAX_BYTES)).encoding

    def session() -> None:
        frames = [analyse_frame(d, index=i, engine=engine, max_bytes=MAX_BYTES)
                  for i, d in enumerate(session_frames)]
        decision = decide_session(frames, template=template, threshold=THRESHOLD,
                                  actions=[Action.BLINK, Action.OPEN_MOUTH])
        assert decision.passed

    session_ms = statistics.median(_ms(session) for _ in range(3))
    merge_results({
        "face_encode_raw_ms": round(raw_med, 1),
        "certification_frame_ms": round(our_med, 1),
        "certification_frame_ratio": round(our_med / raw_med, 3),
        "certification_session_ms": round(session_ms, 1),
    })
    # the goal is 1.15; the bound here leaves room for a machine shared with other work
    assert our_med / raw_med < 1.3


def test_matcher_error_rates_on_shared_set(faces_dir: Path) -> None:
    # through the command, as an operator runs it on any face set
    result = CliRunner().invoke(main, ["faces", "evaluate", str(faces_dir / "manifest.json")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    merge_results({"face_far": report["far"], "face_frr": report["frr"],
                   "face_margin": report["margin"]})
    assert report["far"] == 0.0
