"""``make sample``: the backend, the callback worker and the sample channel server,
side by side, until Ctrl-C.

The Makefile has already run ``ecard init``, ``ecard demo load`` and registered the
sample channels (``samples.channel_server.register``); this starts the three
processes, waits until both servers answer, prints where they are and how to try
them, and stops all three when one of them exits or on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from types import FrameType

ECARD_PORT = int(os.environ.get("ECARD_PORT", "8000"))
SAMPLE_PORT = int(os.environ.get("ECARD_SAMPLE_PORT", "8001"))


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 15
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time: killing it", file=sys.stderr)
            proc.kill()
            proc.wait()


def main() -> int:
    py = sys.executable
    ecard_url = f"http://127.0.0.1:{ECARD_PORT}"
    sample_url = f"http://127.0.0.1:{SAMPLE_PORT}"
    env = {**os.environ, "ECARD_URL": ecard_url}
    env.setdefault("ECARD_PUBLIC_URL", ecard_url)  # H5 page links point at this server
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        procs["backend"] = subprocess.Popen(
            [py, "-m", "ecard", "serve", "--port", str(ECARD_PORT)], env=env)
        procs["worker"] = subprocess.Popen([py, "-m", "ecard", "worker", "--poll", "0.5"],
                                           env=env)
        procs["sample app"] = subprocess.Popen(
            [py, "-m", "samples.channel_server", "--port", str(SAMPLE_PORT)], env=env)
        deadline = time.monotonic() + 90
        while not (_up(ecard_url + "/api/v1/health") and _up(sample_url + "/health")):
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead or stopping or time.monotonic() > deadline:
                print(f"could not start: {', '.join(dead) or 'timeout'}", file=sys.stderr)
                return 1
            time.sleep(0.3)
        print(f"""
  platform API     {ecard_url}/api/docs   (JWKS {ecard_url}/.well-known/jwks.json)
  sample app       {sample_url}/          (JSON API under {sample_url}/api)
  callbacks        {sample_url}/callbacks   ← ecard worker delivers here
  terminal         uv run python -m samples.terminal QR.png --scene 01
  walkthrough      README.md, "Samples"; Ctrl-C stops all three
""", flush=True)
        while not stopping:
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead:
                print(f"{', '.join(dead)} exited: stopping the others", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        _stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
