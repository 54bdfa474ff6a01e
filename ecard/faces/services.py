"""Turning an image into exactly one usable face, and matching it to a template."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ecard.errors import FaceError
from ecard.faces.engine import face_distance
from ecard.faces.interfaces import DetectedFace, Encoding, FaceEngine

# Below this mean face luminance (0-255) dlib's landmarks drift and encodings of the
# same person spread; the user is better served by "move to the light" than by a
# mismatch. The shared set's real dim faces sit at 40-67 and still encode, so the
# cut is set below them.
MIN_FACE_BRIGHTNESS = 35.0
MIN_FACE_HEIGHT_PX = 40

TEMPLATE_BYTES = 128 * 8


def single_face(engine: FaceEngine, rgb: npt.NDArray[np.uint8]) -> DetectedFace:
    """The one face in the image, or a ``FaceError`` saying what is wrong."""
    faces = engine.detect_and_encode(rgb)
    if not faces:
        if float(rgb.mean()) < MIN_FACE_BRIGHTNESS:
            raise FaceError("FACE_TOO_DARK", details={"brightness": round(float(rgb.mean()), 1)})
        raise FaceError("FACE_NOT_FOUND")
    if len(faces) > 1:
        raise FaceError("FACE_MULTIPLE", details={"faces": len(faces)})
    face = faces[0]
    if face.box.height < MIN_FACE_HEIGHT_PX:
        raise FaceError("FACE_TOO_SMALL", details={"face_px": face.box.height})
    if face.brightness < MIN_FACE_BRIGHTNESS:
        raise FaceError("FACE_TOO_DARK", details={"brightness": round(face.brightness, 1)})
    return face


@dataclass(frozen=True)
class MatchResult:
    distance: float
    threshold: float

    @property
    def matched(self) -> bool:
        return self.distance <= self.threshold

    @property
    def score(self) -> float:
        """Recorded with every decision: the Euclidean distance, rounded."""
        return round(self.distance, 4)


def match(probe: Encoding, template: Encoding, threshold: float) -> MatchResult:
    return MatchResult(face_distance(probe, template), threshold)


def encoding_to_bytes(encoding: Encoding) -> bytes:
    return np.asarray(encoding, dtype="<f8").tobytes()


def encoding_from_bytes(data: bytes) -> Encoding:
    if len(data) != TEMPLATE_BYTES:
        raise ValueError("a face template is 128 little-endian float64 values")
    return np.frombuffer(data, dtype="<f8").astype(np.float64)
