"""Migrations are the schema: upgrade, compare with the models, downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from ecard.migrations import alembic_config, downgrade, upgrade


def test_sqlite_upgrade_matches_the_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    command.check(alembic_config(url))  # raises if a model change lacks a migration
    downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


@pytest.mark.postgres
def test_postgres_schema_matches_the_models(postgres_database: str) -> None:
    command.check(alembic_config(postgres_database))
