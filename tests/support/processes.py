"""Real processes in tests: a free loopback port, waiting (bounded) for one to answer,
and stopping it (terminate, then kill only if it does not stop). Used by the
end-to-end tests and the benchmarks over HTTP."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str,
               proc: subprocess.Popen[bytes] | None = None, log: Path | None = None,
               every_s: float = 0.2) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` (with the tail of ``log``)
    when ``proc`` exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({proc.returncode})\n"
                               f"{_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s\n{_tail(log)}")
        time.sleep(every_s)


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
