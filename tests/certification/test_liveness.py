"""The action detector on the measures of real footage (labels.csv of the shared set),
and the per-frame measures checked against the set's own published values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecard.certification.interfaces import (
    ACTION_NOT_SEEN,
    ACTIONS_OUT_OF_ORDER,
    NO_MOTION,
    Action,
)
from ecard.certification.liveness import FrameSignals, detect_actions
from tests.certification.conftest import Analyse, frame_path, labels

KATIE = "wda_katiehill"
HAMILTON = "hamilton_short"


def signals(faces_dir: Path, clip: str, frames: list[int] | None = None,
            ear_scale: float = 1.0) -> list[FrameSignals]:
    """Measures of real frames from labels.csv, in capture order, re-indexed 0..n-1."""
    rows = labels(faces_dir, clip)
    chosen = frames if frames is not None else sorted(
        i for i, r in rows.items() if r["n_faces"] == "1")
    return [FrameSignals(k, float(rows[i]["ear"]) * ear_scale, float(rows[i]["mar"]),
                         float(rows[i]["yaw_estimate"])) for k, i in enumerate(chosen)]


def test_real_blinks_are_seen_in_the_whole_katiehill_run(faces_dir: Path) -> None:
    result = detect_actions(signals(faces_dir, KATIE), [Action.BLINK])
    assert result.passed
    blink = result.actions[0]
    # frame 23 (0.55 x baseline) opens the first blink; 24 is the fully closed frame
    assert blink.frame_index in (23, 24)
    assert blink.value is not None and blink.value <= 0.6


def test_no_blink_is_invented_where_the_subject_never_blinks(faces_dir: Path) -> None:
    """hamilton_short: 125 frames with a face, eyes never closed (README, checked by eye)."""
    result = detect_actions(signals(faces_dir, HAMILTON), [Action.BLINK])
    assert not result.passed and result.reason == ACTION_NOT_SEEN
    assert result.actions[0].value is not None and result.actions[0].value > 0.6


def test_blink_is_relative_to_the_sessions_own_eyes(faces_dir: Path) -> None:
    """Transform of real measures: every EAR x 0.65, as for small eyes or glasses that
    hide part of the lid (the absolute open-eye EAR becomes 0.22, below what an absolute
    0.25 rule would call closed). The blink is still the only thing seen as one."""
    frames = [10, 20, 24, 28, 92, 148]
    assert detect_actions(signals(faces_dir, KATIE, frames, ear_scale=0.65),
                          [Action.BLINK]).actions[0].frame_index == 2
    open_only = [10, 20, 92, 148, 176]
    assert not detect_actions(signals(faces_dir, KATIE, open_only, ear_scale=0.65),
                              [Action.BLINK]).passed


def test_blink_must_reopen(faces_dir: Path) -> None:
    """Eyes open, then closed at the last frame: a drop that never recovers is not a
    blink (a photo with closed eyes at the end proves nothing)."""
    result = detect_actions(signals(faces_dir, KATIE, [10, 20, 92, 24]), [Action.BLINK])
    assert not result.passed and result.reason == ACTION_NOT_SEEN


def test_mouth_opening_relative_to_the_closed_baseline(faces_dir: Path) -> None:
    seen = detect_actions(signals(faces_dir, KATIE, [92, 148, 168, 176]), [Action.OPEN_MOUTH])
    assert seen.passed and seen.actions[0].frame_index == 2
    # speech only (MAR 0.2-0.45, "partial"): not an opened mouth
    talk = detect_actions(signals(faces_dir, KATIE, [2, 17, 22, 106, 161]), [Action.OPEN_MOUTH])
    assert talk.reason == ACTION_NOT_SEEN


def test_open_mouth_still_picture_is_no_motion(faces_dir: Path) -> None:
    """A still of an open mouth (hamilton frame 113, MAR 0.74) sent five times."""
    result = detect_actions(signals(faces_dir, HAMILTON, [113] * 5), [Action.OPEN_MOUTH])
    assert not result.passed and result.reason == NO_MOTION


def test_turns_follow_the_subjects_point_of_view(faces_dir: Path) -> None:
    """katiehill frames 45 (yaw -0.44: turned to image left = her own right) and 176
    (yaw +0.49: her own left), frontal frames 14 and 92 around them."""
    frames = signals(faces_dir, KATIE, [14, 45, 92, 176])
    ok = detect_actions(frames, [Action.TURN_RIGHT, Action.TURN_LEFT])
    assert ok.passed
    assert [a.frame_index for a in ok.actions] == [1, 3]
    assert detect_actions(frames, [Action.TURN_LEFT, Action.TURN_RIGHT]).reason == (
        ACTIONS_OUT_OF_ORDER)
    # a selfie stream mirrored by the client: image left is now the subject's left
    mirrored = detect_actions(frames, [Action.TURN_LEFT, Action.TURN_RIGHT], mirrored=True)
    assert mirrored.passed


def test_hamilton_turns_to_his_right(faces_dir: Path) -> None:
    result = detect_actions(signals(faces_dir, HAMILTON, [*range(145, 155), 108]),
                            [Action.TURN_RIGHT])
    assert result.passed and result.actions[0].value is not None
    assert result.actions[0].value >= 0.3


def test_a_constantly_turned_face_shows_no_turn(faces_dir: Path) -> None:
    """Frames all turned the same way (hamilton 120-140): the baseline is the turned
    pose itself, so a picture of a turned head cannot pass as a turn."""
    result = detect_actions(signals(faces_dir, HAMILTON, list(range(125, 131))),
                            [Action.TURN_RIGHT])
    assert not result.passed


def test_actions_in_the_wrong_order(faces_dir: Path) -> None:
    frames = signals(faces_dir, KATIE, [14, 32, 92, 148, 168])
    assert detect_actions(frames, [Action.BLINK, Action.OPEN_MOUTH]).passed
    wrong = detect_actions(frames, [Action.OPEN_MOUTH, Action.BLINK])
    assert not wrong.passed and wrong.reason == ACTIONS_OUT_OF_ORDER
    assert wrong.actions[0].seen and not wrong.actions[1].seen


def test_one_or_no_frame_is_no_motion() -> None:
    assert detect_actions([], [Action.BLINK]).reason == NO_MOTION
    assert detect_actions([FrameSignals(0, 0.3, 0.6, 0.0)], [Action.OPEN_MOUTH]).reason == (
        NO_MOTION)


@pytest.mark.parametrize(("clip", "index"), [(KATIE, 24), (KATIE, 168), (KATIE, 176),
                                             (HAMILTON, 122)])
def test_measures_match_the_published_labels(faces_dir: Path, analyse: Analyse,
                                             clip: str, index: int) -> None:
    row = labels(faces_dir, clip)[index]
    frame = analyse(frame_path(faces_dir, clip, index).read_bytes())
    assert frame.signals is not None
    assert frame.signals.ear == pytest.approx(float(row["ear"]), abs=1e-3)
    assert frame.signals.mar == pytest.approx(float(row["mar"]), abs=1e-3)
    assert frame.signals.yaw == pytest.approx(float(row["yaw_estimate"]), abs=1e-3)
