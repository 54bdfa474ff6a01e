"""Liveness from dlib's 68 landmarks: per-frame measures and the action detector.

Pure functions, no Flask, no database. A frame's landmarks (the ``face_landmarks``
dict of ``face_recognition``, model "large") become three numbers:

- ``ear``: eye aspect ratio (|p2-p6| + |p3-p5|) / (2|p1-p4|), mean of both eyes;
- ``mar``: mouth aspect ratio on the inner-lip points 60-67,
  (|p61-p67| + |p62-p66| + |p63-p65|) / (2|p60-p64|);
- ``yaw``: (dl - dr) / (dl + dr), dl = x(nose pt30) - x(jaw pt0), dr = x(jaw pt16) -
  x(pt30). In *unmirrored* camera frames a negative yaw is a face turned towards the
  image left, which is the **subject's own right**.

Actions are named from the subject's point of view, as the prompt speaks to them:
``turn_left`` means "turn your head to your left". In an unmirrored frame that is a
positive yaw change; a front-camera selfie stream that the client mirrors before
sending flips the sign, which the ``mirrored`` flag undoes.

Every decision is relative to baselines taken from the session itself, so glasses,
small eyes, a mouth that rests a little open or a camera a little off-centre do not
decide the result. The shared faces set (``shared/faces/README.md``) gives the scale
of each measure on real footage; thresholds below come from those measurements and
from the definitions of the measures, never from fitting a given file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np
import numpy.typing as npt

from ecard.certification.interfaces import (
    ACTION_NOT_SEEN,
    ACTIONS_OUT_OF_ORDER,
    NO_MOTION,
    Action,
)

Points = npt.NDArray[np.float64]  # shape (68, 2), x then y, image pixels

# --- thresholds ----------------------------------------------------------------
# Blink. An open eye's EAR depends on the eye (the README's two clips: 0.34 and 0.42
# medians), so a closed eye is defined against the session's own open-eye baseline.
# The README labels "closed" at <= 0.5 x baseline and "open" at >= 0.8 x baseline;
# at 25-30 fps the shutter often catches a blink half-way (katiehill frames 23, 112:
# 0.52-0.55 x), so a drop to <= 0.6 x counts, still far below the lowest ratio any
# open eye reached in the set (hamilton's 0.665 x, in 125 frames without a blink).
# The eye must be open (>= 0.8 x) before and again after the closed frame.
BLINK_CLOSED_RATIO = 0.6
BLINK_OPEN_RATIO = 0.8
# Mouth. Inner-lip landmarks ignore gaps of a few pixels (MAR <= 0.10 still shows teeth)
# and speech sits at 0.2-0.45; a deliberately opened mouth reaches 0.5-0.8 in the set.
# Open means MAR >= 0.5 *and* at least 0.3 above the session's most-closed frame, so a
# still picture of an open mouth (no rise at all) never counts.
MOUTH_OPEN_MAR = 0.5
MOUTH_MIN_RISE = 0.3
# Head turn. yaw_estimate spans about -0.8..+0.8 for the moderate turns people make in
# the set; the README calls |yaw| <= 0.15 frontal and >= 0.35 turned. A turn is a change
# of >= 0.30 from the session's frontal baseline (median of its frontal frames, or of
# all frames when none is frontal), twice the frontal band's half-width.
FRONTAL_YAW = 0.15
TURN_YAW_DELTA = 0.30
# Stillness. Re-encoding the same frame (JPEG quality 90 -> 50) moves landmarks by up to
# about 0.05 inter-ocular distances on the set's smallest faces; a blink moves eyelid
# points by about 0.1 and a head turn moves the nose by 0.3 or more. A session whose
# normalised landmarks never move by 0.08 is a repeated still picture.
STILL_LANDMARK_MOTION = 0.08
# Without landmarks (measures only), a still shows no spread at all.
STILL_SIGNAL_SPREAD = 1e-3


def points_from_landmarks(marks: Mapping[str, Sequence[tuple[int, int]]]) -> Points:
    """The 68 dlib points, in dlib's order, from ``face_recognition``'s landmark dict.

    ``top_lip`` holds points 48-54 then 64, 63, 62, 61, 60; ``bottom_lip`` holds 54-59,
    48, then 60, 67, 66, 65, 64 (face_recognition.api.face_landmarks).
    """
    top, bottom = list(marks["top_lip"]), list(marks["bottom_lip"])
    if len(top) != 12 or len(bottom) != 12:
        raise ValueError("landmarks are not the 68-point model")
    ordered = (list(marks["chin"]) + list(marks["left_eyebrow"])
               + list(marks["right_eyebrow"]) + list(marks["nose_bridge"])
               + list(marks["nose_tip"]) + list(marks["left_eye"]) + list(marks["right_eye"])
               + top[0:7] + bottom[1:6]
               + [top[11], top[10], top[9], top[8], top[7], bottom[10], bottom[9], bottom[8]])
    pts = np.asarray(ordered, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError("landmarks are not the 68-point model")
    return pts


def _dist(a: Points, b: Points) -> float:
    return float(np.linalg.norm(a - b))


def _eye_ratio(eye: Points) -> float:
    width = _dist(eye[0], eye[3])
    if width == 0:
        return 0.0
    return (_dist(eye[1], eye[5]) + _dist(eye[2], eye[4])) / (2 * width)


def eye_aspect_ratio(pts: Points) -> float:
    return (_eye_ratio(pts[36:42]) + _eye_ratio(pts[42:48])) / 2


def mouth_aspect_ratio(pts: Points) -> float:
    width = _dist(pts[60], pts[64])
    if width == 0:
        return 0.0
    return (_dist(pts[61], pts[67]) + _dist(pts[62], pts[66]) + _dist(pts[63], pts[65])) / (
        2 * width)


def yaw_estimate(pts: Points) -> float:
    dl = pts[30, 0] - pts[0, 0]
    dr = pts[16, 0] - pts[30, 0]
    if dl + dr == 0:
        return 0.0
    return float((dl - dr) / (dl + dr))


@dataclass(frozen=True)
class FrameSignals:
    """What liveness needs from one frame. ``index`` is its position in capture order."""

    index: int
    ear: float
    mar: float
    yaw: float
    points: Points | None = None

    @classmethod
    def from_points(cls, index: int, pts: Points) -> FrameSignals:
        return cls(index, eye_aspect_ratio(pts), mouth_aspect_ratio(pts), yaw_estimate(pts),
                   pts)


@dataclass(frozen=True)
class ActionResult:
    action: Action
    seen: bool
    frame_index: int | None  # the frame that showed it (the closed-eye frame for a blink)
    value: float | None      # the measure at that frame, or the closest one when unseen
    threshold: float         # what the measure had to reach
    measure: str             # "ear_ratio", "mar", "mar_rise" or "yaw_delta"

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.value, "seen": self.seen,
                "frame_index": self.frame_index, "measure": self.measure,
                "value": None if self.value is None else round(self.value, 4),
                "threshold": self.threshold}


@dataclass(frozen=True)
class Baselines:
    ear_open: float
    mar_closed: float
    yaw_frontal: float
    motion: float  # largest normalised landmark (or measure) movement in the session


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: str | None
    actions: tuple[ActionResult, ...]
    baselines: Baselines

    def to_dict(self) -> dict[str, Any]:
        b = self.baselines
        return {"passed": self.passed, "reason": self.reason,
                "actions": [a.to_dict() for a in self.actions],
                "baselines": {"ear_open": round(b.ear_open, 4),
                              "mar_closed": round(b.mar_closed, 4),
                              "yaw_frontal": round(b.yaw_frontal, 4),
                              "motion": round(b.motion, 4)}}


def landmark_motion(frames: Sequence[FrameSignals]) -> float:
    """Largest movement of any landmark from its median position over the session, in
    inter-ocular distances, after removing each frame's translation and scale.
    Falls back to the spread of the measures when landmarks are not given."""
    if len(frames) < 2:
        return 0.0
    if all(f.points is not None for f in frames):
        normalised = []
        for f in frames:
            pts = f.points
            assert pts is not None
            iod = _dist(pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)) or 1.0
            normalised.append((pts - pts.mean(axis=0)) / iod)
        stack = np.stack(normalised)
        centre = np.median(stack, axis=0)
        return float(np.linalg.norm(stack - centre, axis=2).max())
    spreads = [max(v) - min(v) for v in ([f.ear for f in frames], [f.mar for f in frames],
                                         [f.yaw for f in frames])]
    return float(max(spreads))


def _is_still(frames: Sequence[FrameSignals], motion: float) -> bool:
    if len(frames) < 2:
        return True
    if all(f.points is not None for f in frames):
        return motion < STILL_LANDMARK_MOTION
    return motion < STILL_SIGNAL_SPREAD


def session_baselines(frames: Sequence[FrameSignals]) -> Baselines:
    frontal = [f.yaw for f in frames if abs(f.yaw) <= FRONTAL_YAW]
    yaws = frontal or [f.yaw for f in frames]
    return Baselines(ear_open=float(median(f.ear for f in frames)),
                     mar_closed=float(min(f.mar for f in frames)),
                     yaw_frontal=float(median(yaws)),
                     motion=landmark_motion(frames))


def _find(action: Action, frames: Sequence[FrameSignals], after: int, b: Baselines,
          mirrored: bool) -> ActionResult:
    """The first frame with index > ``after`` that shows ``action``."""
    window = [f for f in frames if f.index > after]
    if action is Action.BLINK:
        ratio = {f.index: (f.ear / b.ear_open if b.ear_open > 0 else 1.0) for f in frames}
        best: float | None = None
        for f in window:
            r = ratio[f.index]
            best = r if best is None else min(best, r)
            if r > BLINK_CLOSED_RATIO:
                continue
            opened_before = any(ratio[g.index] >= BLINK_OPEN_RATIO
                                for g in frames if g.index < f.index)
            opened_after = any(ratio[g.index] >= BLINK_OPEN_RATIO
                               for g in frames if g.index > f.index)
            if opened_before and opened_after:
                return ActionResult(action, True, f.index, r, BLINK_CLOSED_RATIO, "ear_ratio")
        return ActionResult(action, False, None, best, BLINK_CLOSED_RATIO, "ear_ratio")
    if action is Action.OPEN_MOUTH:
        best = None
        for f in window:
            best = f.mar if best is None else max(best, f.mar)
            if f.mar >= MOUTH_OPEN_MAR and f.mar - b.mar_closed >= MOUTH_MIN_RISE:
                return ActionResult(action, True, f.index, f.mar, MOUTH_OPEN_MAR, "mar")
        return ActionResult(action, False, None, best, MOUTH_OPEN_MAR, "mar")
    # Turns: positive "subject_delta" is towards the subject's own left.
    sign = -1.0 if mirrored else 1.0
    want = 1.0 if action is Action.TURN_LEFT else -1.0
    best = None
    for f in window:
        toward = (f.yaw - b.yaw_frontal) * sign * want
        best = toward if best is None else max(best, toward)
        if toward >= TURN_YAW_DELTA:
            return ActionResult(action, True, f.index, toward, TURN_YAW_DELTA, "yaw_delta")
    return ActionResult(action, False, None, best, TURN_YAW_DELTA, "yaw_delta")


def detect_actions(frames: Sequence[FrameSignals], actions: Sequence[Action], *,
                   mirrored: bool = False) -> LivenessResult:
    """Did ``actions`` happen, each after the frame that showed the previous one?

    ``frames`` are one session's frames with a face, in capture order. On failure the
    reason is ``NO_MOTION`` (a repeated still: nothing moved), ``ACTIONS_OUT_OF_ORDER``
    (every action was seen, but not in the requested order) or ``ACTION_NOT_SEEN``.
    """
    frames = sorted(frames, key=lambda f: f.index)
    if not frames:
        empty = Baselines(0.0, 0.0, 0.0, 0.0)
        results = tuple(ActionResult(a, False, None, None, 0.0, "none") for a in actions)
        return LivenessResult(False, NO_MOTION, results, empty)
    b = session_baselines(frames)
    in_order: list[ActionResult] = []
    cursor = -1
    for action in actions:
        found = _find(action, frames, cursor, b, mirrored)
        in_order.append(found)
        if found.seen and found.frame_index is not None:
            cursor = found.frame_index
        else:
            cursor = max(f.index for f in frames)  # nothing later can be in order
    if all(r.seen for r in in_order):
        return LivenessResult(True, None, tuple(in_order), b)
    if _is_still(frames, b.motion):
        reason = NO_MOTION
    elif all(_find(a, frames, -1, b, mirrored).seen for a in actions):
        reason = ACTIONS_OUT_OF_ORDER
    else:
        reason = ACTION_NOT_SEEN
    return LivenessResult(False, reason, tuple(in_order), b)
