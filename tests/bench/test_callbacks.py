"""``callback_delivery_per_s``: notifications through the worker to a real local receiver.

A few thousand notifications over many e-cards (three each, so streams advance in
order across batches) are delivered by one worker (batch 100, 8 POSTs in parallel)
to a ThreadingHTTPServer on 127.0.0.1, on SQLite. Each delivery is claimed, signed
(ES256), POSTed, answered 204 and recorded. Also reported: the raw ES256 signing rate
in the same run (``callback_sign_per_s``), the ceiling for one process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from ecard import create_app
from ecard.audit.services import Actor
from ecard.clock import SystemClock
from ecard.migrations import upgrade
from ecard.notifications.models import Notification
from ecard.notifications.services import enqueue_notification
from ecard.notifications.signing import sign_callback
from ecard.notifications.transport import RequestsTransport
from ecard.notifications.worker import CallbackWorker
from ecard.platform import Platform
from ecard.protect import generate_master_key
from ecard.tokens.services import create_signing_key
from tests.bench.conftest import merge_results
from tests.channels.conftest import add_channel
from tests.notifications.conftest import set_callback_url
from tests.notifications.test_delivery_http import _free_port, serving

N = int(os.environ.get("ECARD_BENCH_CALLBACKS", "3000"))
CH = "1000000001"


class CountingReceiver:
    def __init__(self) -> None:
        self.count = 0

    def handle(self, body: bytes, signature: str) -> int:
        self.count += 1
        return 204


@pytest.mark.bench
def test_callback_delivery_per_s(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": generate_master_key(),
                      "INSTANCE_DIR": str(tmp_path / "instance")}, clock=SystemClock())
    platform: Platform = app.extensions["ecard"]
    with platform.db.transaction() as session:
        create_signing_key(session, platform.protector, platform.clock, Actor.system())
    add_channel(platform, CH)
    port = _free_port()
    set_callback_url(platform, CH, f"http://127.0.0.1:{port}/{CH}/callback")
    with platform.db.transaction() as session:
        for i in range(N):
            enqueue_notification(session, platform.clock, CH, f"S{i % (N // 3):06d}",
                                 ("issued", "pin_verified", "suspended")[i % 3],
                                 {"sign_no": f"S{i % (N // 3):06d}", "status": "active"})
    receiver: Any = CountingReceiver()
    worker = CallbackWorker.from_config(platform, RequestsTransport(1.0, 5.0))
    with serving(port, {CH: receiver}):
        start = time.perf_counter()
        stats = worker.drain()
        elapsed = time.perf_counter() - start
    worker.close()
    assert stats.delivered == N and receiver.count == N
    with platform.db.session() as session:
        note = session.get(Notification, 1)
        assert note is not None
        t0 = time.perf_counter()
        for i in range(2000):
            sign_callback(platform.keyring, note, i + 1, int(time.time()))
        sign_rate = 2000 / (time.perf_counter() - t0)
    rate = N / elapsed
    print(f"\ncallback_delivery_per_s={rate:.0f} ({N} in {elapsed:.2f} s, "
          f"{stats.batches} batches); callback_sign_per_s={sign_rate:.0f}")
    merge_results({"callback_delivery_per_s": round(rate, 1),
                   "callback_sign_per_s": round(sign_rate, 1)})
    platform.db.dispose()
