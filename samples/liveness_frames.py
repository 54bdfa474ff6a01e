"""Real liveness frames for the actions a session asks, chosen from a clip's labels:
what a phone would capture, for the walkthrough and the end-to-end tests.

``labels.csv`` of a clip (``shared/faces/liveness/<clip>/``, or the 9 frames shipped in
``samples/demo/faces/liveness/``) measures every frame (eye and mouth aspect
ratios, yaw) and labels it. For a session's actions we send: a neutral frame (eyes
open, mouth closed, frontal) as the baseline, then per action its frame followed by
another neutral frame. Head poses are labelled from the image: a head turned to the
image's left is the subject turning to their own right (``turn_right``); the frames
are sent as the camera took them (``mirrored: false``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = dict[str, str]
NEIGHBOURS = 6  # frames (0.24 s at 25 fps) either side of a used frame left alone


def _distance(row: Row) -> float:
    """Face distance to the clip's first frame, where measured (closer is safer)."""
    return float(row.get("dist_to_first_run_frame") or 0)


ACTION_CHOICES: dict[str, tuple[Callable[[Row], bool], Callable[[Row], Any]]] = {
    # (which frames show the action cleanly, best first)
    "blink": (lambda r: r["eye_state"] == "closed" and r["head_pose"] == "frontal"
              and float(r["mar"]) < 0.5, lambda r: float(r["ear"])),
    "open_mouth": (lambda r: r["mouth_state"] == "open" and r["eye_state"] == "open"
                   and r["head_pose"] == "frontal", lambda r: -float(r["mar"])),
    "turn_right": (lambda r: r["head_pose"].startswith("turned_image_left")
                   and r["eye_state"] == "open" and float(r["mar"]) < 0.5
                   and float(r["yaw_estimate"]) <= -0.4,
                   _distance),
    "turn_left": (lambda r: r["head_pose"].startswith("turned_image_right")
                  and r["eye_state"] == "open" and float(r["mar"]) < 0.5
                  and float(r["yaw_estimate"]) >= 0.4,
                  _distance),
}


class Clip:
    def __init__(self, folder: Path, *, reserved: set[int] | None = None) -> None:
        self.folder = folder
        with (folder / "labels.csv").open(newline="", encoding="utf-8") as fh:
            self.rows = list(csv.DictReader(fh))
        # Frames never sent: the enrolment photo, and those already used (a frame
        # seen in an earlier session of the person fails the new one), with their
        # neighbours.
        self.used: set[int] = set(reserved or ())

    def _take(self, keep: Callable[[Row], bool], rank: Callable[[Row], Any]) -> int:
        rows = sorted((r for r in self.rows if keep(r) and not self._near_used(int(r["frame"]))),
                      key=rank)
        if not rows:
            raise LookupError("no unused frame of this clip fits")
        index = int(rows[0]["frame"])
        self.used.add(index)
        return index

    def _near_used(self, index: int) -> bool:
        # Neighbouring video frames look alike: the platform's perceptual hash takes
        # them for the same picture, so they count as used too.
        return any(abs(index - u) <= NEIGHBOURS for u in self.used)

    def _neutral(self) -> int:
        return self._take(lambda r: r["eye_state"] == "open" and r["mouth_state"] != "open"
                          and r["head_pose"] == "frontal",
                          lambda r: (r["mouth_state"] != "closed", _distance(r)))

    def can_show(self, actions: list[str]) -> bool:
        """Whether the clip's unused frames can show these actions, none asked twice."""
        if len(set(actions)) != len(actions) or not all(a in ACTION_CHOICES for a in actions):
            return False
        saved = set(self.used)
        try:
            self._pick(actions)
        except LookupError:
            return False
        finally:
            self.used = saved
        return True

    def _pick(self, actions: list[str]) -> list[int]:
        indices = [self._neutral()]
        for action in actions:
            indices += [self._take(*ACTION_CHOICES[action]), self._neutral()]
        return indices

    def frames_for(self, actions: list[str]) -> list[bytes]:
        indices = self._pick(actions)
        return [(self.folder / "frames" / f"frame_{i:05d}.jpg").read_bytes() for i in indices]
