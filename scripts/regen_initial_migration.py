"""Development aid while the first release is not out: rewrite migration 0001 from
the models. Once a release ships, schema changes get new migrations instead.

Later migrations (0002 onwards) stay as they are: they are set aside while 0001 is
generated (Alembic would otherwise look for the 0001 they name) and put back after.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from alembic import command

from ecard.migrations import HERE, alembic_config

versions = HERE / "versions"
with tempfile.TemporaryDirectory() as tmp:
    aside = Path(tmp) / "aside"
    aside.mkdir()
    later = [p for p in versions.glob("*.py") if not p.name.startswith("0001_")]
    for path in later:
        shutil.move(str(path), aside / path.name)
    try:
        for old in versions.glob("0001_*.py"):
            old.unlink()
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'gen.sqlite3'}")
        command.revision(cfg, message="foundation", autogenerate=True, rev_id="0001")
    finally:
        for path in later:
            shutil.move(str(aside / path.name), path)
