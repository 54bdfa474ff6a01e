"""Shared by the browser tests of tests/web: Playwright, with Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (make install does "
                    "it as root) to run the browser tests")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        yield p
