"""The package as a whole: its documented examples run, it stands alone (no import of
the platform, PyJWT or requests), the one error mapper, QR rendering on the device."""

from __future__ import annotations

import ast
import doctest
import importlib
import io
import pkgutil
from pathlib import Path

import ecard_sdk
import pytest
import zxingcpp
from ecard_sdk import PaymentCodeGenerator
from ecard_sdk.errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    IdempotencyError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    error_class,
    error_from_response,
)
from ecard_sdk.qr import render_png, render_svg
from PIL import Image

MODULES = sorted(m.name for m in pkgutil.iter_modules(ecard_sdk.__path__))
ALLOWED_IMPORTS = {"cryptography", "urllib3", "ecard_sdk", "qrcode", "__future__"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"ecard_sdk.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_imports_only_its_own_dependencies(name: str) -> None:
    import sys
    path = Path(ecard_sdk.__file__).parent / f"{name}.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = {node.module.split(".")[0]}
        else:
            continue
        for root in roots:
            assert root in ALLOWED_IMPORTS or root in sys.stdlib_module_names, (name, root)


@pytest.mark.parametrize(("status", "code", "cls"), [
    (401, "AUTH_EXPIRED", AuthenticationError), (401, "PIN_WRONG", InvalidRequestError),
    (403, "FORBIDDEN", PermissionDeniedError), (404, "ECARD_NOT_FOUND", NotFoundError),
    (409, "CODE_ALREADY_REDEEMED", ConflictError),
    (409, "IDEMPOTENCY_KEY_REUSED", IdempotencyError),
    (400, "BAD_REQUEST", InvalidRequestError), (402, "INSUFFICIENT_FUNDS", InvalidRequestError),
    (410, "CODE_EXPIRED", InvalidRequestError), (413, "IMAGE_TOO_LARGE", InvalidRequestError),
    (422, "VALIDATION_FAILED", InvalidRequestError), (423, "PIN_LOCKED", InvalidRequestError),
    (429, "RATE_LIMITED", RateLimitError), (500, "INTERNAL_ERROR", APIError),
    (503, None, APIError), (418, None, InvalidRequestError),
])
def test_one_mapper_chooses_the_class(status: int, code: str | None, cls: type) -> None:
    assert error_class(status, code) is cls
    assert issubclass(IdempotencyError, ConflictError)


def test_rate_limit_wait_from_header_or_details() -> None:
    body = {"code": "RATE_LIMITED", "message": "m", "details": {"retry_after_s": 12},
            "request_id": "r1"}
    from_details = error_from_response(429, {}, body)
    assert isinstance(from_details, RateLimitError) and from_details.retry_after_s == 12.0
    from_header = error_from_response(429, {"retry-after": "3"}, body)
    assert isinstance(from_header, RateLimitError) and from_header.retry_after_s == 3.0
    assert repr(from_header).startswith("RateLimitError(code='RATE_LIMITED'")


def test_payment_code_renders_as_a_readable_qr() -> None:
    code = PaymentCodeGenerator(b"q" * 32, 123).code_at_time(1_767_225_600)
    image = Image.open(io.BytesIO(render_png(code, module_px=6)))
    assert image.size == ((21 + 8) * 6,) * 2  # version 1 + quiet zone
    results = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert {r.text for r in results if r.valid} == {code}
    svg = render_svg(code)
    assert svg.startswith("<svg") and svg.count("h1v1h-1z") > 100
