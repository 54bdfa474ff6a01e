"""Per-frame analysis and the session decision of remote certification.

One frame costs one face detection: :func:`analyse_frame` decodes the upload with our
own validation (``load_rgb``), finds the faces and encodes them in one engine call
(``single_face``), and then reads the 68 landmarks at the box already found. Detection
is most of the cost of a frame, so nothing detects twice.

:func:`decide_session` turns the frames' analyses into pass or fail with every reason
and score, given the enrolment template, the scene's threshold, the requested actions
and the hashes of frames seen in earlier sessions.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from PIL import Image

from ecard.certification.interfaces import (
    FACE_MISMATCH,
    FRAME_REPLAYED,
    FRAMES_MISSING,
    IDENTITY_CHANGED,
    Action,
    LandmarkFaceEngine,
)
from ecard.certification.liveness import (
    FrameSignals,
    LivenessResult,
    detect_actions,
    points_from_landmarks,
)
from ecard.errors import EcardError
from ecard.faces.engine import face_distance
from ecard.faces.images import load_rgb
from ecard.faces.interfaces import Encoding, FaceBox
from ecard.faces.services import single_face

# Perceptual hash: a 16x16 difference hash (256 bits) of the face crop in grey. On the
# shared liveness frames, re-encoding one frame at JPEG quality 90, 70 or 50 changes at
# most 3 bits, while two different real frames of the same person differ by 54 bits or
# more. A frame within 12 bits of a known one (4x the re-encoding noise, under a
# quarter of the closest distinct frames) is the same picture sent again.
PHASH_SIDE = 16
PHASH_REPLAY_BITS = 12


def perceptual_hash(rgb: npt.NDArray[np.uint8], box: FaceBox) -> str:
    """dHash of the face crop: is each pixel brighter than its right neighbour."""
    crop = rgb[max(box.top, 0):max(box.bottom, 0), max(box.left, 0):max(box.right, 0)]
    if crop.size == 0:
        crop = rgb
    grey = Image.fromarray(crop).convert("L").resize((PHASH_SIDE + 1, PHASH_SIDE),
                                                     Image.Resampling.BILINEAR)
    px = np.asarray(grey, dtype=np.int16)
    bits = (px[:, 1:] > px[:, :-1]).flatten()
    return np.packbits(bits).tobytes().hex()


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two perceptual hashes."""
    return int((int(a, 16) ^ int(b, 16)).bit_count())


@dataclass
class KnownHashes:
    """Hashes of frames accepted before (the caller loads those of the same person's
    earlier sessions): exact bytes, and the perceptual hash for re-encoded copies."""

    sha256: set[str] = field(default_factory=set)
    phashes: list[str] = field(default_factory=list)

    def add(self, frame: FrameAnalysis) -> None:
        self.sha256.add(frame.sha256)
        if frame.phash is not None:
            self.phashes.append(frame.phash)

    def add_all(self, frames: Sequence[FrameAnalysis]) -> None:
        for frame in frames:
            self.add(frame)

    def seen(self, frame: FrameAnalysis) -> bool:
        if frame.sha256 in self.sha256:
            return True
        if frame.phash is None:
            return False
        return any(phash_distance(frame.phash, p) <= PHASH_REPLAY_BITS for p in self.phashes)


@dataclass(frozen=True)
class FrameAnalysis:
    index: int
    sha256: str
    reason: str | None = None        # why the frame is unusable (catalogue code)
    details: Any = None
    box: FaceBox | None = None
    encoding: Encoding | None = None
    signals: FrameSignals | None = None
    phash: str | None = None
    distance: float | None = None    # to the template, when one was given

    @property
    def usable(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "sha256": self.sha256,
                               "reason": self.reason}
        if self.details is not None:
            out["details"] = self.details
        if self.distance is not None:
            out["distance"] = round(self.distance, 4)
        if self.signals is not None:
            out.update(ear=round(self.signals.ear, 4), mar=round(self.signals.mar, 4),
                       yaw=round(self.signals.yaw, 4))
        return out


def analyse_frame(data: bytes, *, index: int, engine: LandmarkFaceEngine, max_bytes: int,
                  template: Encoding | None = None) -> FrameAnalysis:
    """Everything one uploaded frame tells: face, encoding, landmarks, hashes, distance."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        rgb = load_rgb(data, max_bytes=max_bytes)
        face = single_face(engine, rgb)
    except EcardError as exc:
        return FrameAnalysis(index, digest, reason=exc.code, details=exc.details)
    marks = engine.landmarks(rgb, face.box)
    try:
        pts = points_from_landmarks(cast(Mapping[str, Sequence[tuple[int, int]]], marks))
    except (KeyError, ValueError):
        return FrameAnalysis(index, digest, reason="FACE_NOT_FOUND",
                             details={"landmarks": "incomplete"})
    distance = None if template is None else face_distance(face.encoding, template)
    return FrameAnalysis(index, digest, box=face.box, encoding=face.encoding,
                         signals=FrameSignals.from_points(index, pts),
                         phash=perceptual_hash(rgb, face.box), distance=distance)


@dataclass(frozen=True)
class SessionDecision:
    passed: bool
    reason: str | None                # the one to show first
    reasons: tuple[str, ...]          # every reason found, most important first
    threshold: float
    max_distance: float | None        # farthest frame from the template
    max_pairwise_distance: float | None
    liveness: LivenessResult | None
    frames: tuple[dict[str, Any], ...]
    replayed: tuple[int, ...] = ()    # indices of frames seen before

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)
        return {"passed": self.passed, "reason": self.reason, "reasons": list(self.reasons),
                "threshold": self.threshold, "max_distance": r(self.max_distance),
                "max_pairwise_distance": r(self.max_pairwise_distance),
                "replayed_frames": list(self.replayed),
                "liveness": None if self.liveness is None else self.liveness.to_dict(),
                "frames": list(self.frames)}


def max_pairwise_distance(encodings: Sequence[Encoding]) -> float:
    if len(encodings) < 2:
        return 0.0
    return max(face_distance(a, b) for a, b in itertools.combinations(encodings, 2))


# The order reasons are shown in: a replay first (it is not a user mistake), then what
# the user can fix in the picture, then identity, then the actions.
_FRAME_REASON_ORDER = ("IMAGE_INVALID", "IMAGE_TOO_LARGE", "FACE_MULTIPLE", "FACE_TOO_DARK",
                       "FACE_TOO_SMALL", "FACE_NOT_FOUND")


def decide_session(frames: Sequence[FrameAnalysis], *, template: Encoding, threshold: float,
                   actions: Sequence[Action], known: KnownHashes | None = None,
                   mirrored: bool = False) -> SessionDecision:
    """Pass only when every frame holds exactly one face matching ``template`` within
    ``threshold``, the frames show one identity (no two frames farther apart than
    ``threshold``), no frame was seen before, and ``actions`` happened in order."""
    ordered = sorted(frames, key=lambda f: f.index)
    reasons: list[str] = []
    if not ordered:
        return SessionDecision(False, FRAMES_MISSING, (FRAMES_MISSING,), threshold, None, None,
                               None, ())
    replayed = tuple(f.index for f in ordered if known is not None and known.seen(f))
    if replayed:
        reasons.append(FRAME_REPLAYED)
    frame_reasons = {f.reason for f in ordered if f.reason is not None}
    reasons.extend(code for code in _FRAME_REASON_ORDER if code in frame_reasons)
    reasons.extend(sorted(frame_reasons - set(_FRAME_REASON_ORDER)))
    usable = [f for f in ordered if f.usable and f.encoding is not None]
    distances = [face_distance(f.encoding, template) for f in usable if f.encoding is not None]
    max_distance = max(distances) if distances else None
    if max_distance is not None and max_distance > threshold:
        reasons.append(FACE_MISMATCH)
    pairwise = (max_pairwise_distance([f.encoding for f in usable if f.encoding is not None])
                if usable else None)
    if pairwise is not None and pairwise > threshold:
        reasons.append(IDENTITY_CHANGED)
    signals = [f.signals for f in usable if f.signals is not None]
    liveness = detect_actions(signals, actions, mirrored=mirrored) if signals else None
    if liveness is not None and liveness.reason is not None:
        reasons.append(liveness.reason)
    frame_rows = []
    for f in ordered:
        row = f.to_dict()
        if f.encoding is not None:
            row["distance"] = round(face_distance(f.encoding, template), 4)
        frame_rows.append(row)
    return SessionDecision(
        passed=not reasons and liveness is not None and liveness.passed,
        reason=reasons[0] if reasons else None, reasons=tuple(reasons), threshold=threshold,
        max_distance=max_distance, max_pairwise_distance=pairwise, liveness=liveness,
        frames=tuple(frame_rows), replayed=replayed)
