"""Where the samples keep their state: ``$ECARD_SAMPLE_DIR``, else
``$ECARD_INSTANCE_DIR/sample``, else ``instance/sample`` (git-ignored): the sample
channels' private keys (``<channel>.pem``), the sample app's SQLite file and the
terminal's cached JWKS and status list."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def default_dir() -> Path:
    explicit = os.environ.get("ECARD_SAMPLE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("ECARD_INSTANCE_DIR") or ROOT / "instance") / "sample"


def kid_of(folder: Path, channel_no: str) -> str:
    """The key id a sample channel signs with: ``sample-<channel>``, or the id of the
    key made again after its file was deleted (written beside it)."""
    extra = folder / f"{channel_no}.kid"
    return extra.read_text().strip() if extra.exists() else f"sample-{channel_no}"
