"""``make sample`` smoke test: after what the Makefile runs first (``ecard init``,
``ecard demo load``, the sample channels registered), ``samples/run.py`` starts the
backend, the callback worker and the sample channel server; all three answer, and one
SIGINT to ``run.py`` alone (not to its children, so it is ``run.py`` that must stop
them) ends all three within seconds, leaving no process of its group behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.processes import PY, ROOT, Stack, answers, stop, wait_until

pytestmark = pytest.mark.e2e

STOP_WITHIN_S = 10.0


def _group(pgid: int) -> set[int]:
    """The live processes of a process group (Linux /proc; zombies count as gone)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")"
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found.add(int(entry.name))
    return found


def _children(pid: int) -> set[int]:
    kids = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids.update(int(k) for k in (task / "children").read_text().split())
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_make_sample_starts_three_processes_and_ctrl_c_stops_them_all(
        tmp_path: Path) -> None:
    st = Stack.create(tmp_path / "instance")
    st.run("-m", "ecard", "init")
    st.run("-m", "ecard", "demo", "load")
    st.run("-m", "samples.channel_server.register",
           "--callback-url", st.sample_url + "/callbacks")
    env = {**st.env, "ECARD_PORT": str(st.ecard_port),
           "ECARD_SAMPLE_PORT": str(st.sample_port), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        # its own session: the group is what run.py and its children are, to count
        proc = subprocess.Popen([PY, "-m", "samples.run"], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: answers(st.ecard_url + "/api/v1/health"), timeout_s=90,
                   what="backend", proc=proc, log=log)
        wait_until(lambda: answers(st.sample_url + "/health"), timeout_s=60,
                   what="sample channel server", proc=proc, log=log)
        wait_until(lambda: "delivering callbacks" in log.read_text(errors="replace"),
                   timeout_s=60, what="callback worker", proc=proc, log=log)
        wait_until(lambda: "Ctrl-C stops all three" in log.read_text(errors="replace"),
                   timeout_s=30, what="run.py ready", proc=proc, log=log)
        children = _children(proc.pid)
        assert len(children) == 3, (children, log.read_text(errors="replace"))
        assert children <= _group(proc.pid)

        os.kill(proc.pid, signal.SIGINT)
        started = time.monotonic()
        assert proc.wait(timeout=STOP_WITHIN_S) == 0, log.read_text(errors="replace")
        wait_until(lambda: not _group(proc.pid), timeout_s=max(
            0.5, STOP_WITHIN_S - (time.monotonic() - started)),
                   what="run.py's children gone (no orphans)", log=log)
        assert not answers(st.ecard_url + "/api/v1/health")
        assert not answers(st.sample_url + "/health")
    finally:
        stop(proc)
        for pid in _group(proc.pid):  # only what this test started: its own group
            os.kill(pid, signal.SIGKILL)
