"""The face engine on dlib through ``face_recognition``: HOG detection, 68-point
landmarks and 128-d encodings.

Importing ``face_recognition`` when its models are missing prints a hint and calls
``quit()``: we import it lazily and turn that exit into an exception, so a broken
install fails loudly instead of ending the process with status 0.
"""

from __future__ import annotations

import threading
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ecard.faces.interfaces import DetectedFace, Encoding, FaceBox

_lock = threading.Lock()
_module: ModuleType | None = None


class FaceModelsUnavailable(RuntimeError):
    """face_recognition_models is not importable: the install is broken."""


def face_recognition_module() -> ModuleType:
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                try:
                    with warnings.catch_warnings():
                        # face_recognition_models imports the deprecated pkg_resources
                        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                        import face_recognition
                except SystemExit as exc:  # its quit() when the models are missing
                    raise FaceModelsUnavailable(
                        "face_recognition could not load face_recognition_models") from exc
                _module = face_recognition
    return _module


def _luminance(rgb: npt.NDArray[np.uint8], box: FaceBox) -> float:
    crop = rgb[max(box.top, 0):box.bottom, max(box.left, 0):box.right]
    if crop.size == 0:
        return 0.0
    lum = crop[..., 0] * 0.299 + crop[..., 1] * 0.587 + crop[..., 2] * 0.114
    return float(lum.mean())


class DlibFaceEngine:
    """``upsample`` 1 finds faces down to about 40 px; the encoder's ``jitters`` stays
    at 1 (each extra jitter multiplies encode time for a small gain)."""

    def __init__(self, upsample: int = 1, jitters: int = 1) -> None:
        self.upsample = upsample
        self.jitters = jitters

    def detect_and_encode(self, rgb: npt.NDArray[np.uint8]) -> list[DetectedFace]:
        fr = face_recognition_module()
        locations = fr.face_locations(rgb, number_of_times_to_upsample=self.upsample,
                                      model="hog")
        if not locations:
            return []
        encodings = fr.face_encodings(rgb, known_face_locations=locations,
                                      num_jitters=self.jitters)
        faces = []
        for (top, right, bottom, left), enc in zip(locations, encodings, strict=True):
            box = FaceBox(top, right, bottom, left)
            faces.append(DetectedFace(box, np.asarray(enc, dtype=np.float64),
                                      _luminance(rgb, box)))
        return faces

    def landmarks(self, rgb: npt.NDArray[np.uint8], box: FaceBox) -> dict[str, Any]:
        fr = face_recognition_module()
        marks = fr.face_landmarks(rgb, face_locations=[(box.top, box.right, box.bottom,
                                                        box.left)], model="large")
        return marks[0] if marks else {}


def face_distance(a: Encoding, b: Encoding) -> float:
    return float(np.linalg.norm(a - b))
