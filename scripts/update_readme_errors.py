"""Rewrite the README's error table from ecard/errors.py (run after adding a code)."""

from __future__ import annotations

import re
from pathlib import Path

from ecard.errors import catalogue_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- errors:start -->", "<!-- errors:end -->"

text = README.read_text(encoding="utf-8")
block = f"{START}\n{catalogue_markdown()}\n{END}"
README.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text,
                         flags=re.S), encoding="utf-8")
