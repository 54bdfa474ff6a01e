"""Enrolment photos at import: found inside the photos folder, turned into one face."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ecard.errors import CATALOGUE, EcardError
from ecard.faces.images import load_rgb
from ecard.faces.interfaces import FaceEngine
from ecard.faces.services import encoding_to_bytes, single_face
from ecard.registry.csvformat import RowRejected


@dataclass(frozen=True)
class Photo:
    data: bytes
    sha256: str


class PhotoFolder:
    """Reads photos named by relative paths, never outside ``root``."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes

    def read(self, name: str) -> Photo:
        rel = Path(name)
        if rel.is_absolute() or name.startswith(("/", "\\")):
            raise RowRejected("PHOTO_PATH_INVALID", "the photo path must be relative to the "
                              "photos folder")
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise RowRejected("PHOTO_PATH_INVALID", "the photo path leaves the photos folder")
        try:
            with path.open("rb") as fh:
                data = fh.read(self.max_bytes + 1)  # enough to know it is too large
        except OSError as exc:
            raise RowRejected("PHOTO_NOT_FOUND", f"the photo {name!r} cannot be read "
                              f"({exc.strerror or 'error'})") from exc
        return Photo(data, hashlib.sha256(data).hexdigest())


def face_template(engine: FaceEngine, photo: Photo, max_bytes: int) -> bytes:
    """The photo's one face as template bytes, or :class:`RowRejected` with the face
    error's code (``FACE_NOT_FOUND``, ``FACE_MULTIPLE``, ``IMAGE_INVALID`` ...)."""
    try:
        face = single_face(engine, load_rgb(photo.data, max_bytes=max_bytes))
    except EcardError as exc:
        reason = CATALOGUE[exc.code].en
        if isinstance(exc.details, dict) and exc.details:
            extra = ", ".join(f"{k}={v}" for k, v in exc.details.items())
            reason = f"{reason} ({extra})"
        raise RowRejected(exc.code, reason) from exc
    return encoding_to_bytes(face.encoding)
