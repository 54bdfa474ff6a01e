"""When the H5 page speaks each prompt and when it takes each key frame.

The server sends the page a plan, computed here from the session's mode, actions and
frame budget, instead of leaving timings to the browser: the decision needs frames in
a known order (a frontal baseline first, each action after its prompt, a frontal frame
at the end so a blink has an open eye after it), the budget is the server's
(``CERTIFICATION_MAX_FRAMES``), and the browser tests build their camera video from
the same plan. Times are seconds from the moment the camera shows its first picture;
the page schedules every cue and capture against that one origin, so delays do not
add up from step to step.

Standard mode: a short intro, 1.5 s to react to each prompt, frames 0.5 s apart
(0.3 s for a blink, which is brief). Elder mode: a long intro, 3 s to react, frames
spread over the prompt's hold time, no countdown (the page shows none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STANDARD = "standard"
ELDER = "elder"

BASELINE = -1  # the step index of the frontal frames taken before the first prompt


@dataclass(frozen=True)
class Timing:
    intro_s: float
    react_s: float
    spacing_s: float
    blink_spacing_s: float
    after_s: float


TIMINGS = {
    STANDARD: Timing(intro_s=3.0, react_s=1.5, spacing_s=0.5, blink_spacing_s=0.3,
                     after_s=0.8),
    ELDER: Timing(intro_s=5.0, react_s=3.0, spacing_s=1.0, blink_spacing_s=0.5,
                  after_s=1.5),
}


@dataclass(frozen=True)
class Cue:
    at_s: float
    step: int  # BASELINE, 0..n-1 for the actions, n for "look at the screen again"


@dataclass(frozen=True)
class Capture:
    at_s: float
    step: int


@dataclass(frozen=True)
class CapturePlan:
    cues: tuple[Cue, ...]
    captures: tuple[Capture, ...]
    end_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"cues": [{"at_s": c.at_s, "step": c.step} for c in self.cues],
                "captures": [{"at_s": c.at_s, "step": c.step} for c in self.captures],
                "end_s": self.end_s}


def frames_per_step(actions: int, max_frames: int) -> tuple[int, int, int]:
    """(baseline, per action, final) frame counts within ``max_frames``."""
    if actions < 1 or max_frames < actions + 1:
        raise ValueError("the frame budget cannot cover one frame per action plus one")
    baseline = 2 if max_frames >= actions + 3 else 1
    final = 1 if max_frames >= actions + baseline + 1 else 0
    per_action = max(1, min(3, (max_frames - baseline - final) // actions))
    return baseline, per_action, final


def capture_plan(mode: str, actions: list[str], max_frames: int,
                 hold_s: list[float | None] | None = None) -> CapturePlan:
    t = TIMINGS[ELDER if mode == ELDER else STANDARD]
    baseline, per_action, final = frames_per_step(len(actions), max_frames)
    cues: list[Cue] = [Cue(0.0, BASELINE)]
    captures: list[Capture] = []
    now = t.intro_s
    for k in range(baseline):
        captures.append(Capture(round(now + k * 0.4, 2), BASELINE))
    now = captures[-1].at_s + t.after_s
    for i, action in enumerate(actions):
        spacing = t.blink_spacing_s if action == "blink" else t.spacing_s
        hold = hold_s[i] if hold_s and i < len(hold_s) else None
        if hold and per_action > 1:
            spacing = max(spacing, hold / (per_action - 1))
        cues.append(Cue(round(now, 2), i))
        first = now + t.react_s
        for k in range(per_action):
            captures.append(Capture(round(first + k * spacing, 2), i))
        now = captures[-1].at_s + t.after_s
    if final:
        cues.append(Cue(round(now, 2), len(actions)))
        captures.append(Capture(round(now + t.react_s, 2), len(actions)))
        now = captures[-1].at_s + t.after_s
    return CapturePlan(tuple(cues), tuple(captures), round(now, 2))
