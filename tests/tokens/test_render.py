"""QR rendering: zxing-cpp reads back the exact text of both code kinds from the PNG
and from the SVG's geometry; level M, quiet zone, fixed mask, sizes."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
import qrcode
import zxingcpp
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from ecard.payments.codes import generate_payment_code_at_time
from ecard.tokens.qr import sign_identity_code_at_time
from ecard.tokens.render import (
    MASK_PATTERN,
    QUIET_ZONE,
    Matrix,
    qr_matrix,
    render_png,
    render_svg,
)

T = 1_767_225_600
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def identity_codes(key: ec.EllipticCurvePrivateKey) -> list[str]:
    return [sign_identity_code_at_time(key, "5c9WnlteFq2oHapx", ecard_index=i * 7919,
                                       channel_no=f"{i:010d}", t=T + i,
                                       scenes=["01", "02", "03", "04"][: i % 5])
            for i in range(12)]


PAYMENT_CODES = [generate_payment_code_at_time(bytes([i]) * 32, slot, T + 30 * i)
                 for i, slot in enumerate((0, 1, 42, 123_456_789, 999_999_999))]


def _decode(image: Image.Image) -> tuple[str, str]:
    # Only QR symbols: a scanner of e-card codes reads nothing else, and zxing-cpp, asked
    # for every format, once (in a CI run) reported a second symbol in a clean
    # rendering. The same symbol found twice is a decoder quirk; two texts are a defect.
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    found = {(r.text, r.ec_level) for r in results if r.valid}
    assert len(found) == 1, [(r.format, r.text, r.position) for r in results]
    return found.pop()


def test_identity_png_round_trip(identity_codes: list[str]) -> None:
    for token in identity_codes:
        image = Image.open(io.BytesIO(render_png(token)))
        assert image.format == "PNG"
        assert _decode(image) == (token, "M")


def test_payment_png_round_trip_keeps_leading_zeros() -> None:
    assert PAYMENT_CODES[0].startswith("810000000")
    for code in PAYMENT_CODES:
        assert _decode(Image.open(io.BytesIO(render_png(code)))) == (code, "M")


def _svg_matrix(svg: str) -> Matrix:
    root = ET.fromstring(svg)
    n = int(root.attrib["viewBox"].split()[2])
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    matrix = [[False] * n for _ in range(n)]
    for x, y, w, w2 in re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path.attrib["d"]):
        assert w == w2
        for i in range(int(x), int(x) + int(w)):
            matrix[int(y)][i] = True
    return matrix


def _raster(matrix: Matrix, scale: int = 6) -> Image.Image:
    n = len(matrix)
    small = Image.frombytes("L", (n, n), bytes(0 if d else 255 for r in matrix for d in r))
    return small.resize((n * scale, n * scale), Image.Resampling.NEAREST)


def test_svg_is_well_formed_and_draws_the_symbol(identity_codes: list[str]) -> None:
    for text in (identity_codes[0], PAYMENT_CODES[3]):
        svg = render_svg(text, title="电子社保卡 <code> & more")
        root = ET.fromstring(svg)  # well-formed XML, or this raises
        assert root.tag == f"{SVG_NS}svg"
        assert root.find(f"{SVG_NS}title") is not None
        drawn = _svg_matrix(svg)
        assert drawn == qr_matrix(text)
        assert _decode(_raster(drawn)) == (text, "M")


def test_quiet_zone_size_and_versions(identity_codes: list[str]) -> None:
    for text, version in ((identity_codes[0], 9), (PAYMENT_CODES[0], 1)):
        matrix = qr_matrix(text)
        n = len(matrix)
        assert n == 17 + 4 * version + 2 * QUIET_ZONE
        for i in range(QUIET_ZONE):
            assert not any(matrix[i]) and not any(matrix[n - 1 - i])
            assert not any(row[i] or row[n - 1 - i] for row in matrix)
        image = Image.open(io.BytesIO(render_png(text)))
        scale = image.width // n
        assert image.size == (n * scale, n * scale) and scale >= 4
        assert 250 <= image.width <= 400  # phone screen: about 360 px
        pixels = image.convert("L")
        assert all(pixels.getpixel((x, y)) == 255
                   for x in range(image.width) for y in range(QUIET_ZONE * scale))


def test_fixed_mask_is_the_one_drawn(identity_codes: list[str]) -> None:
    for text in (identity_codes[1], PAYMENT_CODES[1]):
        reference = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE,
                                  mask_pattern=MASK_PATTERN)
        reference.add_data(text)
        reference.make(fit=True)
        assert qr_matrix(text) == reference.get_matrix()


def test_version_cache_does_not_mix_shapes() -> None:
    # Same length, different modes: the cache is keyed by (mode, length).
    for text in ("1" * 40, "A" * 40, "a" * 40, "1" * 40):
        assert _decode(_raster(qr_matrix(text))) == (text, "M")
