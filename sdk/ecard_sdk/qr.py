"""Drawing a code as a QR image on the device (optional: ``pip install ecard-sdk[qr]``).

The platform already returns identity codes as PNG and SVG; this is for codes made
on the device (:class:`~ecard_sdk.PaymentCodeGenerator`), where there is no network.
Level M error correction, a 4-module quiet zone, and the fixed mask pattern the
platform uses (qrcode's automatic mask choice is about 70 % of render time). The
PNG is written here with ``zlib`` (no Pillow): black modules on white, whole pixels
per module.

>>> png = render_png(generator.now())      # doctest: +SKIP
>>> svg = render_svg(generator.now())      # doctest: +SKIP
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

MASK_PATTERN = 2
QUIET_ZONE = 4


def _matrix(text: str) -> list[list[bool]]:
    try:
        import qrcode
        from qrcode.constants import ERROR_CORRECT_M
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("QR rendering needs the optional extra: "
                          "pip install 'ecard-sdk[qr]'") from exc
    code: Any = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE,
                              mask_pattern=MASK_PATTERN)
    code.add_data(text)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def render_png(text: str, *, module_px: int = 8) -> bytes:
    """``text`` as a black-and-white PNG QR code (1 bit per pixel).

    >>> render_png("810000000071234567")[:8]    # doctest: +SKIP
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    if module_px < 1:
        raise ValueError("module_px must be at least 1")
    matrix = _matrix(text)
    size = len(matrix) * module_px
    rows = []
    for modules in matrix:
        bits = "".join(("0" if dark else "1") * module_px for dark in modules)
        bits += "0" * (-len(bits) % 8)
        row = b"\x00" + int(bits, 2).to_bytes(len(bits) // 8, "big")
        rows.extend([row] * module_px)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def render_svg(text: str, *, module_px: int = 8) -> str:
    """``text`` as a standalone SVG QR code (one path, crisp at any zoom).

    >>> render_svg("810000000071234567").startswith("<svg")    # doctest: +SKIP
    True
    """
    matrix = _matrix(text)
    size = len(matrix)
    path = "".join(f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix)
                   for x, dark in enumerate(row) if dark)
    px = size * module_px
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
            f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path d="{path}" fill="#000"/></svg>')
