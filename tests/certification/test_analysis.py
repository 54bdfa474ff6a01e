"""Whole sessions built from real frames of the shared set, analysed and decided.

katiehill (person_13) has no enrolment photo: her own frontal frame 0 is the template
(see ``katie_template``). Frames are named by their index in the clip; a session uses
them in the order listed, as if captured in that order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ecard.certification.analysis import (
    PHASH_REPLAY_BITS,
    FrameAnalysis,
    KnownHashes,
    analyse_frame,
    decide_session,
    phash_distance,
)
from ecard.certification.interfaces import Action
from ecard.faces.engine import DlibFaceEngine, face_recognition_module
from ecard.faces.interfaces import Encoding
from tests.certification.conftest import (
    MAX_BYTES,
    THRESHOLD,
    Analyse,
    flipped_jpeg,
    frame_path,
    in_session,
    reencoded_jpeg,
)

KATIE = "wda_katiehill"
HAMILTON = "hamilton_short"
BLINK_THEN_MOUTH = [Action.BLINK, Action.OPEN_MOUTH]


def frames(faces_dir: Path, analyse: Analyse, clip: str, indices: list[int]
           ) -> list[FrameAnalysis]:
    return in_session([analyse(frame_path(faces_dir, clip, i).read_bytes()) for i in indices])


def test_genuine_blink_then_open_mouth_passes(faces_dir: Path, analyse: Analyse,
                                              katie_template: Encoding) -> None:
    """Frames 14 (open), 24 (eyes closed), 92 (open, mouth closed), 148, 168 (mouth open)."""
    session = frames(faces_dir, analyse, KATIE, [14, 24, 92, 148, 168])
    decision = decide_session(session, template=katie_template, threshold=THRESHOLD,
                              actions=BLINK_THEN_MOUTH)
    assert decision.passed, decision.to_dict()
    assert decision.reason is None
    assert decision.liveness is not None
    assert [a.frame_index for a in decision.liveness.actions] == [1, 4]
    assert decision.max_distance is not None and decision.max_distance <= THRESHOLD
    body = decision.to_dict()
    assert body["passed"] and len(body["frames"]) == 5
    assert all(row["distance"] <= THRESHOLD for row in body["frames"])


def test_genuine_head_turns_pass(faces_dir: Path, analyse: Analyse,
                                 katie_template: Encoding) -> None:
    """Frame 45 is turned to her own right (image left), 176 to her own left."""
    session = frames(faces_dir, analyse, KATIE, [14, 45, 92, 176])
    ok = decide_session(session, template=katie_template, threshold=THRESHOLD,
                        actions=[Action.TURN_RIGHT, Action.TURN_LEFT])
    assert ok.passed, ok.to_dict()
    swapped = decide_session(session, template=katie_template, threshold=THRESHOLD,
                             actions=[Action.TURN_LEFT, Action.TURN_RIGHT])
    assert swapped.reason == "ACTIONS_OUT_OF_ORDER"


def test_a_still_frame_repeated_fails_with_no_motion(faces_dir: Path, analyse: Analyse,
                                                     katie_template: Encoding) -> None:
    """One real frame (92) sent five times: twice as the same file, and re-encoded at
    JPEG quality 85, 70 and 50 so that no two uploads have the same bytes."""
    data = frame_path(faces_dir, KATIE, 92).read_bytes()
    uploads = [data, reencoded_jpeg(data, 85), data, reencoded_jpeg(data, 70),
               reencoded_jpeg(data, 50)]
    session = in_session([analyse(u) for u in uploads])
    decision = decide_session(session, template=katie_template, threshold=THRESHOLD,
                              actions=BLINK_THEN_MOUTH)
    assert not decision.passed
    assert decision.reason == "NO_MOTION"
    assert decision.max_distance is not None and decision.max_distance <= THRESHOLD


def test_actions_in_the_wrong_order_fail(faces_dir: Path, analyse: Analyse,
                                         katie_template: Encoding) -> None:
    """Blink at frame 32, mouth opened at 168 afterwards; asked for mouth first."""
    session = frames(faces_dir, analyse, KATIE, [14, 32, 92, 148, 168])
    assert decide_session(session, template=katie_template, threshold=THRESHOLD,
                          actions=BLINK_THEN_MOUTH).passed
    wrong = decide_session(session, template=katie_template, threshold=THRESHOLD,
                           actions=[Action.OPEN_MOUTH, Action.BLINK])
    assert not wrong.passed and wrong.reasons == ("ACTIONS_OUT_OF_ORDER",)


def test_another_persons_face_fails_identity(faces_dir: Path, analyse: Analyse,
                                             katie_template: Encoding,
                                             miranda_template: Encoding) -> None:
    """The hamilton subject's frames against katiehill's template, and the other way
    round; and a session where the face changes half-way."""
    hamilton = frames(faces_dir, analyse, HAMILTON, [150, 122, 150])
    other = decide_session(hamilton, template=katie_template, threshold=THRESHOLD,
                           actions=[Action.TURN_RIGHT])
    assert not other.passed and other.reason == "FACE_MISMATCH"
    assert other.max_distance is not None and other.max_distance > 0.7
    katie = frames(faces_dir, analyse, KATIE, [14, 24, 92])
    assert decide_session(katie, template=miranda_template, threshold=THRESHOLD,
                          actions=[Action.BLINK]).reason == "FACE_MISMATCH"
    swapped = in_session(katie + frames(faces_dir, analyse, HAMILTON, [150]))
    mixed = decide_session(swapped, template=katie_template, threshold=THRESHOLD,
                           actions=[Action.BLINK])
    assert {"FACE_MISMATCH", "IDENTITY_CHANGED"} <= set(mixed.reasons)
    assert mixed.max_pairwise_distance is not None and mixed.max_pairwise_distance > 0.7


def test_two_faces_fail_with_their_own_reason(faces_dir: Path, analyse: Analyse,
                                              katie_template: Encoding) -> None:
    two = analyse((faces_dir / "special" / "multi_face" / "two_people.jpg").read_bytes())
    assert two.reason == "FACE_MULTIPLE" and two.details == {"faces": 2}
    session = in_session([*frames(faces_dir, analyse, KATIE, [14, 24, 92]), two])
    decision = decide_session(session, template=katie_template, threshold=THRESHOLD,
                              actions=[Action.BLINK])
    assert not decision.passed and decision.reason == "FACE_MULTIPLE"


def test_too_dark_and_no_face(faces_dir: Path, analyse: Analyse,
                              katie_template: Encoding) -> None:
    """derived/person_02_biden2_dark_x0.05.jpg is a synthetic 5 % exposure of a real
    photo (its transform is in the manifest): no face is found in it, and the reason
    given is the one the user can act on."""
    dark = analyse((faces_dir / "derived" / "person_02_biden2_dark_x0.05.jpg").read_bytes())
    assert dark.reason == "FACE_TOO_DARK"
    nothing = analyse((faces_dir / "special" / "no_face" / "giraffe.jpg").read_bytes())
    assert nothing.reason == "FACE_NOT_FOUND"
    decision = decide_session(in_session([dark, nothing]), template=katie_template,
                              threshold=THRESHOLD, actions=[Action.BLINK])
    assert decision.reasons[:2] == ("FACE_TOO_DARK", "FACE_NOT_FOUND")
    assert decide_session([], template=katie_template, threshold=THRESHOLD,
                          actions=[Action.BLINK]).reason == "FRAMES_MISSING"


def test_frames_replayed_from_an_earlier_session_fail(faces_dir: Path, analyse: Analyse,
                                                      katie_template: Encoding) -> None:
    first = frames(faces_dir, analyse, KATIE, [14, 24, 92, 148, 168])
    assert decide_session(first, template=katie_template, threshold=THRESHOLD,
                          actions=BLINK_THEN_MOUTH).passed
    known = KnownHashes()
    known.add_all(first)
    # the same file again, and a re-encoded copy (other bytes, same picture)
    data = frame_path(faces_dir, KATIE, 168).read_bytes()
    copy = analyse(reencoded_jpeg(data, 75))
    assert copy.sha256 != first[4].sha256
    assert copy.phash is not None and first[4].phash is not None
    assert phash_distance(copy.phash, first[4].phash) <= PHASH_REPLAY_BITS
    second = in_session([*frames(faces_dir, analyse, KATIE, [32, 45, 176]), copy,
                         *frames(faces_dir, analyse, KATIE, [24])])
    decision = decide_session(second, template=katie_template, threshold=THRESHOLD,
                              actions=[Action.BLINK], known=known)
    assert not decision.passed and decision.reason == "FRAME_REPLAYED"
    assert decision.replayed == (3, 4)
    # new frames of the same person are not mistaken for replays
    fresh = frames(faces_dir, analyse, KATIE, [32, 45, 176])
    assert not any(known.seen(f) for f in fresh)


def test_subject_left_turn_built_by_mirroring_a_real_frame(
        faces_dir: Path, analyse: Analyse, miranda_template: Encoding) -> None:
    """hamilton_short has turns to the subject's right (frame 122, yaw -0.55) but
    hardly any to his left. Transform: frame 122 mirrored horizontally (Pillow
    ImageOps.mirror, saved as JPEG quality 90) is the same head turned to his left
    (yaw +0.55). Session: 150 (frontal), 122, mirrored 122; template: his enrolment
    photo people/person_06/lin-manuel-miranda.png."""
    real = frame_path(faces_dir, HAMILTON, 122).read_bytes()
    session = in_session([*frames(faces_dir, analyse, HAMILTON, [150]), analyse(real),
                          analyse(flipped_jpeg(real))])
    assert session[2].signals is not None and session[2].signals.yaw > 0.4
    ok = decide_session(session, template=miranda_template, threshold=THRESHOLD,
                        actions=[Action.TURN_RIGHT, Action.TURN_LEFT])
    assert ok.passed, ok.to_dict()
    assert decide_session(session, template=miranda_template, threshold=THRESHOLD,
                          actions=[Action.TURN_LEFT, Action.TURN_RIGHT]).reason == (
        "ACTIONS_OUT_OF_ORDER")


def test_encoding_and_hashes_come_from_one_detection(
        faces_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection dominates a frame's cost: it runs once, landmarks and the encoding
    reuse its box."""
    fr = face_recognition_module()
    calls: list[int] = []
    original = fr.face_locations

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(fr, "face_locations", counting)
    frame = analyse_frame(frame_path(faces_dir, KATIE, 93).read_bytes(), index=0,
                          engine=DlibFaceEngine(), max_bytes=MAX_BYTES)
    assert len(calls) == 1
    assert frame.usable and frame.box is not None and frame.encoding is not None
    assert np.asarray(frame.encoding).shape == (128,)
    assert frame.phash is not None and len(frame.phash) == 64  # 256 bits
    assert len(frame.sha256) == 64
