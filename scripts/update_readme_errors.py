"""Rewrite the README's generated tables (error catalogue, registry reject codes)
from the code: run after adding a code."""

from __future__ import annotations

import re
from pathlib import Path

from ecard.errors import catalogue_markdown
from ecard.registry.csvformat import reasons_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
TABLES = {"errors": catalogue_markdown, "reasons": reasons_markdown}

text = README.read_text(encoding="utf-8")
for name, render in TABLES.items():
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{render()}\n{end}"
    text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _, b=block: b, text,
                  flags=re.S)
README.write_text(text, encoding="utf-8")
