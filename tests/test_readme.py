"""The README documents what the code does."""

from __future__ import annotations

from pathlib import Path

from ecard.errors import catalogue_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_readme_error_table_is_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert catalogue_markdown() in readme, (
        "README's error table is stale: run `uv run python scripts/update_readme_errors.py`")


def test_readme_reject_table_is_the_registry_reasons() -> None:
    from ecard.registry.csvformat import reasons_markdown
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert reasons_markdown() in readme, (
        "README's reject-code table is stale: run `uv run python scripts/update_readme_errors.py`")


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
