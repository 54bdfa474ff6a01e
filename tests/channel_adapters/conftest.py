"""Fixtures for the channel adapters: the reference servers of the far side (a bank,
a payment platform) started as real processes on free ports, and recipients of a
pension for the payout files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from ecard.certification.models import BenefitRecipient
from ecard.platform import Platform
from tests.support.factories import make_holder, make_id_number

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "samples" / "reference"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]

    def received(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(self.url + "/received", timeout=5).json()
        return answer


def start_server(script: str, *args: str, timeout_s: float = 20.0) -> Server:
    """Start ``samples/reference/<script>`` on a free port (it binds port 0 and prints
    ``listening on http://127.0.0.1:<port>``)."""
    proc = subprocess.Popen([sys.executable, str(REFERENCE / script), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = proc.stdout.readline()
    if not line.startswith("listening on ") or time.monotonic() > deadline:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise RuntimeError(f"{script} did not start: {line!r} {err[-2000:]}")
    return Server(line.split("listening on ", 1)[1].strip(), proc)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.communicate(timeout=5)


@pytest.fixture
def jwks_file(platform: Platform, tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(platform.keyring.jwks()))
    return path


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def launch(script: str, *args: str) -> Server:
        server = start_server(script, *args)
        started.append(server)
        return server

    yield launch
    for server in started:
        stop(server)


def add_recipient(platform: Platform, seq: int, *, certified_until: date,
                  monthly_fen: int = 300000, status: str = "valid", bank: str = "ICBC",
                  name: str = "王五", account: str = "6222020200998877665",
                  backpay_months: int = 0) -> int:
    """A holder of a card at ``bank`` who receives a pension; returns the recipient id."""
    holder = make_holder(platform, id_number=make_id_number("110101", "19500101",
                                                            f"{seq:03d}"),
                         card_no=f"P{seq:08d}", name=name)
    now = platform.clock.now()
    with platform.db.transaction() as session:
        if bank != "ICBC":
            from ecard.registry.models import PhysicalCard
            session.get_one(PhysicalCard, holder.card_id).bank_code = bank
        r = BenefitRecipient(
            person_id=holder.person_id, type="resident", monthly_pension_fen=monthly_fen,
            funeral_grant_fen=0, survivor_lump_sum_fen=0, region="110101",
            bank_account_enc=platform.protector.encrypt_str(account, "recipient.bank_account"),
            period_months=12, certified_until=certified_until, status=status,
            backpay_due=backpay_months > 0, backpay_months=backpay_months,
            last_certified_at=None, died_on=None, row_hash="t", created_at=now,
            updated_at=now)
        session.add(r)
        session.flush()
        return r.id


def day_after(d: date, n: int = 1) -> date:
    return d + timedelta(days=n)
