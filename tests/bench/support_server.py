"""A real ``python -m ecard serve`` on a loopback port, for benchmarks over HTTP.

``running_server(env, workers=2)`` starts gunicorn as a subprocess with the given
environment (the instance: ``ECARD_DATABASE_URL``, ``ECARD_MASTER_KEY``,
``ECARD_INSTANCE_DIR`` ...), waits for ``/api/v1/health`` (bounded), yields the base
URL, and stops the server (terminate, then wait; kill only if it does not stop).
The server's output goes to a file, never to a pipe nobody reads (a full pipe
would block the workers); its tail is in the error when the server does not start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import answers, free_port, stop, wait_until

HOST = "127.0.0.1"


def ecard_cli(*args: str, env: Mapping[str, str], timeout: float = 120) -> str:
    """Run ``python -m ecard ARGS`` to completion; its output, or an error with it."""
    done = subprocess.run([sys.executable, "-m", "ecard", *args], env=dict(env),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"ecard {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def running_server(env: Mapping[str, str], log_path: Path, *, workers: int = 2,
                   start_timeout_s: float = 60) -> Iterator[str]:
    port = free_port()
    full_env = {**os.environ, **env}
    full_env.pop("ECARD_PORT", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecard", "serve", "--host", HOST, "--port", str(port),
             "--workers", str(workers)],
            env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: answers(base + "/api/v1/health"), timeout_s=start_timeout_s,
                   what="ecard serve", proc=proc, log=log_path, every_s=0.3)
        yield base
    finally:
        stop(proc)
