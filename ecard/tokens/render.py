"""QR images of the two code kinds, for phone screens: PNG and SVG.

* Error correction level M (15 % of the symbol recoverable: a scratched screen or a
  reflection) and the quiet zone the standard asks for, 4 modules.
* A fixed mask pattern. qrcode's automatic choice builds the symbol 8 times and
  scores each (ISO 18004's penalty), about 70 % of render time (DESIGN). Any mask is
  valid, decoders read it from the format bits; pattern 2 is the one with the lowest
  mean penalty on a sample of 40 identity codes (version 9) and within 4 % of the
  best on payment codes (version 1), so fixing it costs readability nothing
  measurable. Measured here: 3 ms to build an identity code's matrix against 17 ms
  with the automatic choice.
* The identity code (``EC1.`` + base64url) is encoded in byte mode, version 9
  (53 × 53 modules); the 18-digit payment code in numeric mode, version 1 (21 × 21).
* Images are drawn from the module matrix and scaled by a whole number of pixels per
  module (crisp edges, no resampling blur), about :data:`TARGET_PX` wide, never
  under :data:`MIN_MODULE_PX` per module.

Real apps show the payment code also as a 1-D barcode (Code 128) above the QR code
for laser scanners; that is left out here: the terminals in scope read QR codes, and
the SDK can draw the barcode from the same 18 digits.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import QRData

MASK_PATTERN = 2
QUIET_ZONE = 4
TARGET_PX = 360
MIN_MODULE_PX = 4

Matrix = list[list[bool]]


# Smallest version by (mode, length): one segment in one mode makes the bit length a
# function of those two, so the search (a fifth of the render time) runs once per shape.
_VERSIONS: dict[tuple[int, int], int] = {}


def qr_matrix(data: str) -> Matrix:
    """The symbol's modules (True = dark), quiet zone included."""
    segment = QRData(data)  # one segment, mode chosen from the content
    shape = (segment.mode, len(segment))
    code = qrcode.QRCode(version=_VERSIONS.get(shape), error_correction=ERROR_CORRECT_M,
                         border=QUIET_ZONE, mask_pattern=MASK_PATTERN)
    code.add_data(segment)
    code.make(fit=shape not in _VERSIONS)
    _VERSIONS[shape] = code.version
    matrix: Matrix = code.get_matrix()
    return matrix


def module_px(modules: int, target_px: int = TARGET_PX) -> int:
    return max(MIN_MODULE_PX, target_px // modules)


def matrix_image(matrix: Matrix, target_px: int = TARGET_PX) -> Image.Image:
    """A 1-bit image of ``matrix`` (black on white), a whole number of pixels per module."""
    n = len(matrix)
    raw = bytes(0 if dark else 255 for row in matrix for dark in row)
    small = Image.frombytes("L", (n, n), raw)
    scale = module_px(n, target_px)
    return small.resize((n * scale, n * scale), Image.Resampling.NEAREST).convert(
        "1", dither=Image.Dither.NONE)


def render_png(data: str, *, target_px: int = TARGET_PX) -> bytes:
    """The QR code of ``data`` (an identity code or a payment code) as PNG bytes."""
    out = io.BytesIO()
    matrix_image(qr_matrix(data), target_px).save(out, format="PNG")
    return out.getvalue()


def render_svg(data: str, *, title: str | None = None) -> str:
    """The QR code of ``data`` as a standalone SVG document, one module per unit.

    Dark modules are drawn as horizontal runs in one path; it scales to any size
    (set width/height in CSS) and keeps edges sharp with ``crispEdges``.
    """
    matrix = qr_matrix(data)
    n = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    title_el = f"<title>{escape(title)}</title>" if title else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" '
        f'width="{n * module_px(n)}" height="{n * module_px(n)}" shape-rendering="crispEdges">'
        f'{title_el}<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>\n'
    )
