"""Development aid while the first release is not out: rewrite migration 0001 from
the models. Once a release ships, schema changes get new migrations instead."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from ecard.migrations import HERE, alembic_config

for old in (HERE / "versions").glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    cfg = alembic_config(f"sqlite:///{Path(tmp) / 'gen.sqlite3'}")
    command.revision(cfg, message="foundation", autogenerate=True, rev_id="0001")
