"""The face engine as the rest of the platform sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Encoding = npt.NDArray[np.float64]

# dlib's face_recognition_model_v1 (ResNet, 128-d). Stored beside each template so
# that a model change can find and re-enrol old templates.
MODEL_NAME = "dlib_resnet_v1"


@dataclass(frozen=True)
class FaceBox:
    top: int
    right: int
    bottom: int
    left: int

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class DetectedFace:
    box: FaceBox
    encoding: Encoding
    brightness: float  # mean luminance of the face box, 0-255


class FaceEngine(Protocol):
    def detect_and_encode(self, rgb: npt.NDArray[np.uint8]) -> list[DetectedFace]:
        """Every face in an RGB frame with its 128-d encoding."""
        ...
