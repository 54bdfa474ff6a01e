"""A fake front camera for Chromium: real frames of the shared set, written as a
YUV4MPEG2 file that ``--use-file-for-fake-video-capture`` plays (and loops).

Conversion (documented because Chromium reads the planes as-is): each RGB frame
(Pillow, 8 bit) becomes BT.601 *limited-range* Y'CbCr, the range Chromium assumes for
I420 capture:

    Y  = 16  + ( 65.481 R + 128.553 G +  24.966 B) / 255
    Cb = 128 + (-37.797 R -  74.203 G + 112.000 B) / 255
    Cr = 128 + (112.000 R -  93.786 G -  18.214 B) / 255

then the chroma planes are subsampled 2x2 by averaging (4:2:0, header ``C420``). The
file is ``YUV4MPEG2 W<w> H<h> F<fps>:1 Ip A1:1 C420`` and, per frame, ``FRAME\\n``
followed by the Y, Cb and Cr planes. Width and height must be even.

Which frame is on screen when: the page follows the server's capture plan
(``ecard.web.plan``), whose times start when the camera shows its first picture; the
video starts at the same moment (Chromium opens the file device on getUserMedia).
Each step's frame is held from half-way after the previous step's last capture to
half-way before the next step's first one, so a capture may drift by a second either
way and still see the right picture.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ecard.web.plan import BASELINE

RGB = npt.NDArray[np.uint8]


def rgb_to_i420(rgb: RGB) -> bytes:
    h, w, _ = rgb.shape
    if h % 2 or w % 2:
        raise ValueError("YUV 4:2:0 needs even width and height")
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def sub(c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, sub(cb), sub(cr))]
    return b"".join(p.tobytes() for p in planes)


def write_y4m(path: Path, frames: list[RGB], fps: int) -> None:
    h, w, _ = frames[0].shape
    cache: dict[int, bytes] = {}
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420\n".encode())
        for frame in frames:
            key = id(frame)
            if key not in cache:
                cache[key] = rgb_to_i420(frame)
            fh.write(b"FRAME\n")
            fh.write(cache[key])


def load_rgb(path: Path) -> RGB:
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"))
    h, w, _ = rgb.shape
    return rgb[: h - h % 2, : w - w % 2].copy()


def segments(plan: dict[str, Any]) -> list[tuple[float, int]]:
    """(start time, step) of each held picture: a step starts half-way between the
    previous step's last capture and its own first capture."""
    groups: dict[int, list[float]] = {}
    for c in plan["captures"]:
        groups.setdefault(c["step"], []).append(c["at_s"])
    order = sorted(groups, key=lambda s: min(groups[s]))
    out = [(0.0, order[0])]
    for prev, step in itertools.pairwise(order):
        out.append(((max(groups[prev]) + min(groups[step])) / 2, step))
    return out


def plan_video(path: Path, plan: dict[str, Any], picture: Callable[[int], RGB], *,
               fps: int = 5, tail_s: float = 8.0) -> None:
    """Write the video that shows ``picture(step)`` during each step of ``plan``."""
    segs = segments(plan)
    total = float(plan["end_s"]) + tail_s
    frames: list[RGB] = []
    pictures = {step: picture(step) for _, step in segs}
    for n in range(int(total * fps)):
        t = n / fps
        step = [s for start, s in segs if start <= t][-1]
        frames.append(pictures[step])
    write_y4m(path, frames, fps)


# -- choosing frames of a clip from its labels.csv ------------------------------------
def clip_labels(faces_dir: Path, clip: str) -> list[dict[str, str]]:
    with (faces_dir / "liveness" / clip / "labels.csv").open(newline="",
                                                             encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["n_faces"] == "1" and r["ear"]]


def _pick(rows: list[dict[str, str]], want: Callable[[dict[str, str]], bool],
          score: Callable[[dict[str, str]], float]) -> dict[str, str] | None:
    found = [r for r in rows if want(r)]
    return max(found, key=score) if found else None


def frame_for(rows: list[dict[str, str]], action: str | None) -> int:
    """The frame of a clip that shows ``action`` most clearly by its labels (None: a
    neutral frontal face with eyes open and mouth closed), falling back to neutral
    when the clip never shows the action."""
    def y(r: dict[str, str]) -> float:
        return float(r["yaw_estimate"])

    def is_(r: dict[str, str], eye: str | None, mouth: str | None, pose: str) -> bool:
        return ((eye is None or r["eye_state"] == eye)
                and (mouth is None or r["mouth_state"] == mouth) and pose in r["head_pose"])

    choices: dict[str | None, tuple[Callable[[dict[str, str]], bool],
                                    Callable[[dict[str, str]], float]]] = {
        None: (lambda r: is_(r, "open", "closed", "frontal"), lambda r: -abs(y(r))),
        "blink": (lambda r: is_(r, "closed", None, "frontal"), lambda r: -float(r["mar"])),
        "open_mouth": (lambda r: is_(r, "open", "open", "frontal"), lambda r: float(r["mar"])),
        # turn_left is the subject's own left: the face turns towards the image right
        "turn_left": (lambda r: is_(r, "open", None, "subject_left"), y),
        "turn_right": (lambda r: is_(r, "open", None, "subject_right"), lambda r: -y(r)),
    }
    row = _pick(rows, *choices[action]) or _pick(rows, *choices[None])
    assert row is not None, "the clip has no usable frame"
    return int(row["frame"])


def step_frames(rows: list[dict[str, str]], actions: list[str]) -> dict[int, int]:
    """Frame index per plan step: neutral for the baseline and the last step."""
    out = {BASELINE: frame_for(rows, None), len(actions): frame_for(rows, None)}
    for i, action in enumerate(actions):
        out[i] = frame_for(rows, action)
    return out
