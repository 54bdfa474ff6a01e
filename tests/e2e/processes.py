"""Real processes on loopback for the end-to-end tests: the backend (`ecard serve`),
the callback worker (`ecard worker`) and the sample channel server, each on a free
port with its own instance folder, stopped at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import answers, free_port, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

__all__ = ["PY", "ROOT", "Stack", "answers", "free_port", "stop", "wait_until"]


@dataclass
class Stack:
    """The backend, its worker and the sample app, sharing one instance folder."""

    instance: Path
    env: dict[str, str]
    ecard_port: int = field(default_factory=free_port)
    sample_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ecard_url(self) -> str:
        return f"http://127.0.0.1:{self.ecard_port}"

    @property
    def sample_url(self) -> str:
        return f"http://127.0.0.1:{self.sample_port}"

    @property
    def sample_dir(self) -> Path:
        return self.instance / "sample"

    @classmethod
    def create(cls, instance: Path) -> Stack:
        env = {**os.environ, "ECARD_INSTANCE_DIR": str(instance),
               "ECARD_SAMPLE_DIR": str(instance / "sample"), "PYTHONPATH": str(ROOT)}
        for name in ("ECARD_DATABASE_URL", "ECARD_MASTER_KEY", "ECARD_REDIS_URL"):
            env.pop(name, None)
        stack = cls(instance, env)
        stack.env["ECARD_URL"] = stack.ecard_url
        stack.env["ECARD_PUBLIC_URL"] = stack.ecard_url  # the H5 links point here
        return stack

    def run(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([PY, *args], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout_s)
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done

    def log(self, name: str) -> Path:
        return self.instance / "logs" / f"{name}.log"

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        # Output to a file, not a pipe nobody reads (a full pipe would block the child).
        self.log(name).parent.mkdir(exist_ok=True)
        with self.log(name).open("ab") as out:
            proc = subprocess.Popen([PY, *args], env=self.env, cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def tail(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start_backend(self) -> None:
        proc = self._spawn("backend", "-m", "ecard", "serve", "--workers", "2",
                           "--port", str(self.ecard_port))
        wait_until(lambda: answers(self.ecard_url + "/api/v1/health"), timeout_s=60,
                   what="ecard serve", proc=proc, log=self.log("backend"))

    def start_worker(self) -> None:
        self._spawn("worker", "-m", "ecard", "worker", "--poll", "0.2")

    def start_sample(self) -> None:
        proc = self._spawn("sample", "-m", "samples.channel_server",
                           "--port", str(self.sample_port))
        wait_until(lambda: answers(self.sample_url + "/health"), timeout_s=30,
                   what="sample channel server", proc=proc,
                   log=self.log("sample"))

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            stop(proc)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)
