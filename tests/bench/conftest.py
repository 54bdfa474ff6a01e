"""Shared by the benchmarks: merging metrics into ``bench/results.json``.

Each benchmark adds its own keys (metric name → number, units in the name) and keeps
what the others wrote. A lock file serialises concurrent writers; the file itself is
replaced atomically, so a reader never sees half of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results.json"


def merge_results(values: dict[str, float], path: Path = RESULTS) -> dict[str, Any]:
    """Read ``path`` if present, update it with ``values``, write it back; returns the
    merged mapping."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_name = "ecard-bench-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"{lock_name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current: dict[str, Any] = {}
        if path.exists():
            text = path.read_text(encoding="utf-8").strip()
            current = json.loads(text) if text else {}
        current.update(values)
        merged = dict(sorted(current.items()))
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(merged, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    return merged
