"""Real frames from ``shared/faces/liveness``, analysed once per test run.

Face work costs 0.1-0.25 s per frame here, so every frame is decoded and analysed at
most once (session-scoped cache) and the sessions below reuse the analyses.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from ecard.certification.analysis import FrameAnalysis, analyse_frame
from ecard.config import DEFAULTS
from ecard.faces.engine import DlibFaceEngine
from ecard.faces.images import load_rgb
from ecard.faces.interfaces import Encoding
from ecard.faces.services import single_face

MAX_BYTES = int(DEFAULTS["MAX_IMAGE_BYTES"])
THRESHOLD = float(DEFAULTS["FACE_THRESHOLD_ISSUANCE"])


def frame_path(faces_dir: Path, clip: str, index: int) -> Path:
    return faces_dir / "liveness" / clip / "frames" / f"frame_{index:05d}.jpg"


def flipped_jpeg(data: bytes, quality: int = 90) -> bytes:
    """Horizontal mirror of a real frame, saved as the clips were (JPEG quality 90)."""
    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        ImageOps.mirror(img.convert("RGB")).save(out, "JPEG", quality=quality)
    return out.getvalue()


def reencoded_jpeg(data: bytes, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def labels(faces_dir: Path, clip: str) -> dict[int, dict[str, str]]:
    path = faces_dir / "liveness" / clip / "labels.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return {int(row["frame"]): row for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def engine() -> DlibFaceEngine:
    return DlibFaceEngine()


Analyse = Callable[[bytes], FrameAnalysis]


@pytest.fixture(scope="session")
def analyse(engine: DlibFaceEngine) -> Analyse:
    """Analysis of an upload, cached by its bytes (index 0; sessions re-index)."""
    cache: dict[bytes, FrameAnalysis] = {}

    def run(data: bytes) -> FrameAnalysis:
        if data not in cache:
            cache[data] = analyse_frame(data, index=0, engine=engine, max_bytes=MAX_BYTES)
        return cache[data]
    return run


def in_session(frames: list[FrameAnalysis]) -> list[FrameAnalysis]:
    """The analyses re-indexed 0..n-1 in the given capture order."""
    out = []
    for i, f in enumerate(frames):
        signals = None if f.signals is None else dataclasses.replace(f.signals, index=i)
        out.append(dataclasses.replace(f, index=i, signals=signals))
    return out


def enrol(engine: DlibFaceEngine, data: bytes) -> Encoding:
    """A template made as the registry import makes it: load_rgb then single_face."""
    return single_face(engine, load_rgb(data, max_bytes=MAX_BYTES)).encoding


@pytest.fixture(scope="session")
def katie_template(faces_dir: Path, engine: DlibFaceEngine) -> Encoding:
    """person_13 has no enrolment photo in the set: her own frontal frame 0 of the clip
    (yaw 0.07, eyes open) stands in for it, and frame 0 is kept out of every session."""
    return enrol(engine, frame_path(faces_dir, "wda_katiehill", 0).read_bytes())


@pytest.fixture(scope="session")
def miranda_template(faces_dir: Path, engine: DlibFaceEngine) -> Encoding:
    """person_06's enrolment photo, the identity of the hamilton clip."""
    return enrol(engine, (faces_dir / "people" / "person_06" / "lin-manuel-miranda.png")
                 .read_bytes())
