"""One payment code redeemed by N threads in 2 processes against PostgreSQL: exactly
one capture, every other attempt PAYMENT_CODE_USED (the unique key decides)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from ecard.clock import FrozenClock
from ecard.payments.models import Payment, PaymentCodeUse, Posting
from ecard.platform import Platform
from tests.support.channel_client import ChannelIdentity
from tests.support.payments import MERCHANT, Device

THREADS = 8


def _worker(url: str, instance: str, master: str, pem: bytes, kid: str, code: str, tag: str,
            start: Any, out: Any) -> None:
    from ecard import create_app
    from tests.support.channel_client import SignedClient

    key = serialization.load_pem_private_key(pem, password=None)
    identity = ChannelIdentity(MERCHANT, kid, key)  # type: ignore[arg-type]
    app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": master,
                      "INSTANCE_DIR": instance, "RATELIMIT_DEFAULT": "100000 per minute"})

    def one(i: int) -> tuple[int, str]:
        client = SignedClient(app.test_client(), identity)
        res = client.post("/api/v1/payments", json={
            "code": code, "amount_fen": 100, "currency": "CNY", "order_id": f"{tag}-{i}",
            "scene": "02"})
        body = res.get_json()
        return res.status_code, body.get("code") or body.get("status")

    start.wait()
    with ThreadPoolExecutor(THREADS) as pool:
        out.put(list(pool.map(one, range(THREADS))))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_processes_one_capture(platform: Platform, device: Device, clock: FrozenClock,
                                   merchant_ch: ChannelIdentity,
                                   test_config: dict[str, Any]) -> None:
    code = device.code(clock)
    pem = merchant_ch.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(test_config["DATABASE_URL"],
                                               test_config["INSTANCE_DIR"],
                                               test_config["MASTER_KEY"], pem,
                                               merchant_ch.kid, code, f"p{n}", start, out))
             for n in range(2)]
    for p in procs:
        p.start()
    start.set()
    results = [r for _ in procs for r in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    captured = [r for r in results if r == (201, "captured")]
    used = [r for r in results if r == (409, "PAYMENT_CODE_USED")]
    assert len(captured) == 1 and len(used) == 2 * THREADS - 1, results
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
        assert session.scalar(select(func.count()).select_from(PaymentCodeUse)) == 1
        assert session.scalar(select(func.count()).select_from(Posting)
                              .where(Posting.kind == "payment")) == 1
