"""Our own validation of uploads (face_recognition turns on LOAD_TRUNCATED_IMAGES for
the whole process, so Pillow alone would accept half a picture)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from ecard.errors import EcardError
from ecard.faces.engine import face_recognition_module
from ecard.faces.images import MAX_PIXELS, load_rgb

MAX = 5 << 20


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 110, 100)).save(out, "PNG")
    return out.getvalue()


def _with_png_size(data: bytes, width: int, height: int) -> bytes:
    """The same PNG with other dimensions written in its IHDR (and a valid CRC)."""
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return data[:16] + bytes(ihdr) + crc + data[33:]


def _code(data: bytes, max_bytes: int = MAX) -> str:
    with pytest.raises(EcardError) as info:
        load_rgb(data, max_bytes=max_bytes)
    return info.value.code


def test_truncated_jpeg_is_refused_even_after_face_recognition_import(faces_dir: Path) -> None:
    face_recognition_module()  # sets ImageFile.LOAD_TRUNCATED_IMAGES = True
    data = (faces_dir / "people" / "person_01" / "obama.jpg").read_bytes()
    assert _code(data[: len(data) // 2]) == "IMAGE_INVALID"


def test_non_image_is_refused() -> None:
    assert _code(b"this is a text file, not a photograph of anybody" * 4) == "IMAGE_INVALID"


def test_gif_is_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (1, 2, 3)).save(out, "GIF")
    with pytest.raises(EcardError) as info:
        load_rgb(out.getvalue(), max_bytes=MAX)
    assert info.value.code == "IMAGE_INVALID"
    assert "GIF" in info.value.details["reason"]


def test_oversized_dimensions_are_refused_before_decoding() -> None:
    """A 64x64 PNG whose header claims 5000x5000 (25 M pixels): refused from the header
    alone, the pixels are never decoded."""
    bomb = _with_png_size(_png(64, 64), 5000, 5000)
    assert MAX_PIXELS < 5000 * 5000
    assert _code(bomb) == "IMAGE_TOO_LARGE"


def test_decompression_bomb_is_refused() -> None:
    """Beyond Pillow's own bomb limit (about 179 M pixels) Pillow refuses to open the
    file at all; load_rgb then reports it as not an image. Refused either way."""
    assert _code(_with_png_size(_png(64, 64), 20000, 20000)) in {"IMAGE_INVALID",
                                                                  "IMAGE_TOO_LARGE"}


def test_oversized_bytes_and_tiny_images_are_refused() -> None:
    assert _code(_png(200, 200), max_bytes=100) == "IMAGE_TOO_LARGE"
    assert _code(_png(40, 40)) == "IMAGE_INVALID"


def test_rgba_png_is_accepted(faces_dir: Path) -> None:
    data = (faces_dir / "special" / "format_rgba_png" / "32bit.png").read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGBA"
    rgb = load_rgb(data, max_bytes=MAX)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype.name == "uint8"
