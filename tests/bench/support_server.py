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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def ecard_cli(*args: str, env: Mapping[str, str], timeout: float = 120) -> str:
    """Run ``python -m ecard ARGS`` to completion; its output, or an error with it."""
    done = subprocess.run([sys.executable, "-m", "ecard", *args], env=dict(env),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"ecard {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


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
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                if requests.get(base + "/api/v1/health", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server exited ({proc.returncode}):\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy after {start_timeout_s:.0f} s:\n"
                                   f"{_tail(log_path)}")
            time.sleep(0.3)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
