"""Validation of uploaded images, done by us and in full.

``face_recognition`` turns on Pillow's ``LOAD_TRUNCATED_IMAGES`` for the whole
process, so Pillow alone would accept half an image: we check the format, the
dimensions before decoding (decompression bombs), and that the data decodes whole.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from ecard.errors import EcardError

ALLOWED_FORMATS = {"JPEG", "PNG"}
MAX_PIXELS = 4096 * 4096
MIN_SIDE = 64
# Large photos are scaled down before detection: detection time grows with pixels,
# and a face of 100+ px is all the encoder needs.
WORK_LONG_SIDE = 1024


def decode_base64_image(data: str) -> bytes:
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EcardError("IMAGE_INVALID", details={"reason": "not base64"}) from exc


def load_rgb(data: bytes, *, max_bytes: int) -> npt.NDArray[np.uint8]:
    """Decode a JPEG/PNG upload to an RGB array, or raise ``IMAGE_INVALID`` /
    ``IMAGE_TOO_LARGE`` with the reason."""
    if len(data) > max_bytes:
        raise EcardError("IMAGE_TOO_LARGE", details={"max_bytes": max_bytes})
    if len(data) < 32:
        raise EcardError("IMAGE_INVALID", details={"reason": "empty or truncated"})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
    except Exception as exc:
        raise EcardError("IMAGE_INVALID", details={"reason": "not an image"}) from exc
    if fmt not in ALLOWED_FORMATS:
        raise EcardError("IMAGE_INVALID", details={"reason": f"format {fmt} not accepted"})
    if width * height > MAX_PIXELS:
        raise EcardError("IMAGE_TOO_LARGE", details={"max_pixels": MAX_PIXELS})
    if min(width, height) < MIN_SIDE:
        raise EcardError("IMAGE_INVALID", details={"reason": "image too small"})
    try:
        with Image.open(io.BytesIO(data)) as img:
            # verify() reads the whole stream and checks its structure (PNG CRCs)...
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            if fmt == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
                # ...but a JPEG cut short only shows as a missing end marker.
                raise EcardError("IMAGE_INVALID", details={"reason": "truncated"})
            upright = ImageOps.exif_transpose(img)  # phones store rotation in EXIF
            rgb = upright.convert("RGB")
    except EcardError:
        raise
    except Exception as exc:
        raise EcardError("IMAGE_INVALID", details={"reason": "cannot decode"}) from exc
    if max(rgb.size) > WORK_LONG_SIDE:
        rgb.thumbnail((WORK_LONG_SIDE, WORK_LONG_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)
