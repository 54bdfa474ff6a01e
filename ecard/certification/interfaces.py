"""What remote certification's analysis layer speaks in: actions and reason codes.

Every reason code is an entry of :data:`ecard.errors.CATALOGUE`, so the message the
person in front of the phone sees comes from the one catalogue.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ecard.faces.interfaces import FaceBox, FaceEngine


class Action(StrEnum):
    """Actions named from the subject's point of view ("turn your head to your left")."""

    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"


# liveness
ACTION_NOT_SEEN = "ACTION_NOT_SEEN"
ACTIONS_OUT_OF_ORDER = "ACTIONS_OUT_OF_ORDER"
NO_MOTION = "NO_MOTION"
# identity and replay
FACE_MISMATCH = "FACE_MISMATCH"
IDENTITY_CHANGED = "IDENTITY_CHANGED"
FRAME_REPLAYED = "FRAME_REPLAYED"
FRAMES_MISSING = "FRAMES_MISSING"


class LandmarkFaceEngine(FaceEngine, Protocol):
    """A face engine that also gives the 68 landmarks of a face it already found."""

    def landmarks(self, rgb: npt.NDArray[np.uint8], box: FaceBox) -> dict[str, object]:
        ...
