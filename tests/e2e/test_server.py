"""The real thing: `ecard init`, `ecard demo load`, `ecard serve` with two gunicorn
workers on loopback, and signed calls over HTTP (the path `make run` users take)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.channel_client import ChannelIdentity
from tests.support.processes import answers, free_port, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    instance = tmp_path_factory.mktemp("instance")
    port = free_port()
    env = {**os.environ, "ECARD_INSTANCE_DIR": str(instance), "ECARD_PORT": str(port)}
    env.pop("ECARD_DATABASE_URL", None)
    env.pop("ECARD_MASTER_KEY", None)
    ecard = [sys.executable, "-m", "ecard"]
    subprocess.run([*ecard, "init"], env=env, check=True, capture_output=True, timeout=120)
    loaded = subprocess.run([*ecard, "demo", "load"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    proc = subprocess.Popen([*ecard, "serve", "--workers", "2", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(base + "/api/v1/health"), timeout_s=60,
                   what="ecard serve", proc=proc, every_s=0.3)
        yield base, instance
    finally:
        stop(proc)


def _demo_identity(instance: Path) -> ChannelIdentity:
    key = serialization.load_pem_private_key(
        (instance / "demo-channels" / "1000000001.pem").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return ChannelIdentity("1000000001", "demo-1000000001", key)


def test_signed_call_and_replay_across_workers(server: tuple[str, Path]) -> None:
    base, instance = server
    identity = _demo_identity(instance)
    token = identity.token("POST", "/api/v1/ping", b"{}")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    first = requests.post(base + "/api/v1/ping", data=b"{}", headers=headers, timeout=10)
    assert first.status_code == 200, first.text
    # New connections spread over both workers: every replay must be refused.
    for _ in range(6):
        again = requests.post(base + "/api/v1/ping", data=b"{}", headers=headers, timeout=10)
        assert again.status_code == 401
        assert again.json()["code"] == "AUTH_REPLAYED"


def test_demo_script_issues_a_card_and_verifies_the_credential(
        server: tuple[str, Path]) -> None:
    base, instance = server
    env = {**os.environ, "ECARD_URL": base, "ECARD_INSTANCE_DIR": str(instance)}
    done = subprocess.run([sys.executable, str(ROOT / "samples/demo/try_issue.py")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # a first e-card: refused without a face check, then a passed liveness session of
    # real frames chosen for the actions the server drew, then issued with its id
    assert "CERTIFICATION_SESSION_REQUIRED" in out and "passed=True" in out, out
    assert '"event": "issued"' in out and "credential verified offline" in out
    assert "330106195605120420" not in out  # the response masks the ID number
    again = subprocess.run([sys.executable, str(ROOT / "samples/demo/try_issue.py")],
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and '"event": "already_issued"' in again.stdout


def test_jwks_and_docs_over_http(server: tuple[str, Path]) -> None:
    base, _ = server
    assert requests.get(base + "/.well-known/jwks.json", timeout=5).json()["keys"]
    assert requests.get(base + "/api/docs", timeout=5).status_code == 200
    spec = requests.get(base + "/api/openapi.json", timeout=5).json()
    assert "/api/v1/cards" in spec["paths"]
