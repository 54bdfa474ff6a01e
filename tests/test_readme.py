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


def _command_paths() -> list[list[str]]:
    """Every leaf command of ``ecard``, as its words (``["channel", "add-key"]``)."""
    import click

    from ecard.cli import main

    paths: list[list[str]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])
        elif not cmd.hidden:
            paths.append(path)

    walk(main, [])
    return paths


def test_readme_lists_every_cli_command() -> None:
    """A command counts as listed when a README line names `` `ecard <group>`` and the
    command's own word (rows like ``ecard channel add-key / retire-key`` list several)."""
    import re

    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    missing = []
    for path in _command_paths():
        *groups, name = path
        word = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
        if groups:
            prefix = re.compile(rf"`ecard {re.escape(' '.join(groups))}(?![\w-])")
            found = any(prefix.search(line) and word.search(line) for line in lines)
        else:
            found = any(re.search(rf"`ecard {re.escape(name)}(?![\w-])", line)
                        for line in lines)
        if not found:
            missing.append("ecard " + " ".join(path))
    assert not missing, f"commands missing from README's command tables: {missing}"
    assert len(_command_paths()) > 30  # the walk found the groups' commands
