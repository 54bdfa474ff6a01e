"""1,000,000 synthetic card holders (no photos) into a fresh SQLite database.

The import runs as ``ecard registry import`` in a child process, started by a small
wrapper that reports its children's peak RSS, so the figure is the import's own and
not that of pytest or of earlier benchmarks. A second run of the same file measures
the idempotent path (every row unchanged).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecard.migrations import upgrade
from ecard.protect import generate_master_key
from ecard.registry.generator import write_registry
from tests.bench.conftest import merge_results

ROWS = 1_000_000
BATCH = 5000

_WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr,
                  "wall_s": time.perf_counter() - t,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def _import(csv_path: Path, env: dict[str, str]) -> dict[str, object]:
    ecard = str(Path(sys.executable).with_name("ecard"))
    cmd = [sys.executable, "-c", _WRAPPER, ecard, "registry", "import", str(csv_path),
           "--no-progress", "--batch-size", str(BATCH)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True,
                          timeout=3600)
    result: dict[str, object] = json.loads(done.stdout)
    assert result["rc"] == 0, result["err"]
    return result


def _count(out: str, label: str) -> int:
    m = re.search(rf"^{label}\s+([\d,]+)", out, re.M)
    assert m, out
    return int(m[1].replace(",", ""))


def _elapsed(out: str) -> float:
    m = re.search(r"^elapsed\s+([\d.]+) s", out, re.M)
    assert m, out
    return float(m[1])


@pytest.mark.bench
def test_registry_import_1m(tmp_path: Path) -> None:
    src = tmp_path / "persons.csv"
    t = time.perf_counter()
    write_registry(src, ROWS, seed=2024)
    generate_s = time.perf_counter() - t
    db = tmp_path / "bench.sqlite3"
    url = f"sqlite:///{db}"
    upgrade(url)
    env = {**os.environ, "ECARD_DATABASE_URL": url, "ECARD_MASTER_KEY": generate_master_key(),
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance")}

    first = _import(src, env)
    out = str(first["out"])
    assert _count(out, "inserted") == ROWS and _count(out, "rejected") == 0
    import_s = _elapsed(out)

    again = _import(src, env)
    out2 = str(again["out"])
    assert _count(out2, "unchanged") == ROWS and _count(out2, "inserted") == 0

    merge_results({
        "registry_import_rows_per_s": round(ROWS / import_s),
        "registry_import_1m_s": round(float(str(first["wall_s"])), 1),
        "registry_import_peak_rss_mb": round(int(str(first["peak_rss_kb"])) / 1024, 1),
        "registry_reimport_unchanged_rows_per_s": round(ROWS / _elapsed(out2)),
        "registry_generate_1m_s": round(generate_s, 1),
        "registry_import_file_mb": round(src.stat().st_size / 2**20, 1),
        "registry_import_db_mb": round(db.stat().st_size / 2**20, 1),
    })
