"""The fake camera of the browser tests: the YUV conversion, the file layout, and the
frames chosen from labels.csv (no browser, no face engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecard.web.plan import BASELINE, capture_plan
from tests.web.video import clip_labels, plan_video, rgb_to_i420, segments, step_frames


def test_bt601_limited_range_and_420_layout() -> None:
    white = np.full((2, 4, 3), 255, np.uint8)
    black = np.zeros((2, 4, 3), np.uint8)
    assert list(rgb_to_i420(white)) == [235] * 8 + [128] * 2 + [128] * 2
    assert list(rgb_to_i420(black)) == [16] * 8 + [128] * 4
    red = rgb_to_i420(np.array([[[255, 0, 0]] * 2] * 2, np.uint8))
    assert (red[0], red[4], red[5]) == (81, 90, 240)


def test_video_holds_each_step_around_its_captures(tmp_path: Path) -> None:
    plan = capture_plan("standard", ["blink", "turn_left"], 12).to_dict()
    segs = segments(plan)
    assert [s for _, s in segs] == [BASELINE, 0, 1, 2]
    for c in plan["captures"]:
        start = max(t for t, _ in segs if t <= c["at_s"])
        shown = dict(segs)[start]
        assert shown == c["step"]
        later = [t for t, _ in segs if t > c["at_s"]]
        assert c["at_s"] - start >= 1.0 and (not later or later[0] - c["at_s"] >= 1.0)
    pictures = {s: np.full((4, 6, 3), 10 * (s + 2), np.uint8) for _, s in segs}
    out = tmp_path / "v.y4m"
    plan_video(out, plan, lambda s: pictures[s], fps=5, tail_s=1.0)
    data = out.read_bytes()
    header = b"YUV4MPEG2 W6 H4 F5:1 Ip A1:1 C420\n"
    frame = 6 + 4 * 6 * 3 // 2
    assert data.startswith(header)
    assert (len(data) - len(header)) == int((plan["end_s"] + 1.0) * 5) * frame


def test_frames_chosen_by_labels(faces_dir: Path) -> None:
    katie = step_frames(clip_labels(faces_dir, "wda_katiehill"),
                        ["blink", "open_mouth", "turn_left", "turn_right"])
    # neutral: eyes open, mouth closed, frontal, yaw 0; blink: eyes closed, frontal;
    # mouth: widest open; left: the subject's own left (image right), largest yaw
    assert katie == {BASELINE: 119, 0: 32, 1: 168, 2: 177, 3: 51, 4: 119}
    # hamilton never closes his eyes in the clip: a neutral frame stands in
    ham = step_frames(clip_labels(faces_dir, "hamilton_short"), ["blink"])
    assert ham[0] == ham[BASELINE]


def test_chosen_frames_pass_every_draw_the_server_can_make(faces_dir: Path) -> None:
    """The browser tests seed the draw, but the video builder must serve any draw: the
    frames chosen for katiehill, in the plan's order (two neutral, three per action,
    one neutral), pass the server's own decision for every sequence standard and elder
    mode can ask, except a blink asked twice: six closed-eye frames of twelve pull the
    session's open-eye baseline down (real blinks are brief and fill one frame or two;
    a held still picture fills all three of its step)."""
    import itertools

    from ecard.certification.analysis import analyse_frame, decide_session
    from ecard.certification.interfaces import Action
    from ecard.certification.prompts import ELDER_ACTIONS
    from ecard.faces.engine import DlibFaceEngine
    from ecard.web.plan import frames_per_step
    from tests.certification.conftest import MAX_BYTES, enrol, frame_path, in_session

    engine = DlibFaceEngine()
    template = enrol(engine, frame_path(faces_dir, "wda_katiehill", 0).read_bytes())
    rows = clip_labels(faces_dir, "wda_katiehill")
    every = step_frames(rows, [a.value for a in Action])
    analysed = {i: analyse_frame(frame_path(faces_dir, "wda_katiehill", i).read_bytes(),
                                 index=0, engine=engine, max_bytes=MAX_BYTES,
                                 template=template) for i in set(every.values())}
    neutral = every[BASELINE]
    standard = [c for n in (2, 3) for c in itertools.product(list(Action), repeat=n)
                if all(a is not b for a, b in itertools.pairwise(c))
                and sum(a is Action.BLINK for a in c) < 2]
    draws = standard + [(a,) for a in ELDER_ACTIONS]
    assert len(draws) == 12 + 33 + 3
    for draw in draws:
        chosen = step_frames(rows, [a.value for a in draw])
        base, per_action, final = frames_per_step(len(draw), 12)
        order = ([neutral] * base + [chosen[i] for i in range(len(draw))
                                     for _ in range(per_action)] + [neutral] * final)
        decision = decide_session(in_session([analysed[i] for i in order]),
                                  template=template, threshold=0.5, actions=list(draw))
        assert decision.passed, (draw, decision.reasons)
