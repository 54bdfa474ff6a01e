"""End to end over real HTTP: a receiver on 127.0.0.1 that is down, then comes back."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ecard.clock import FrozenClock
from ecard.notifications.interfaces import InvalidCallback
from ecard.notifications.signing import (
    SIGNATURE_HEADER,
    MemoryReplayGuard,
    verify_callback_signature,
)
from ecard.notifications.transport import RequestsTransport
from ecard.platform import Platform
from tests.notifications.conftest import CH1, CH2, MakeWorker, enqueue, notes, set_callback_url

pytestmark = pytest.mark.usefixtures("channels")


class Receiver:
    """A channel's callback endpoint: verifies each callback as a channel must, keeps
    the first copy of each notification id, answers 204 (or 401 when it fails)."""

    def __init__(self, platform: Platform, channel_no: str) -> None:
        self.platform, self.channel_no = platform, channel_no
        self.guard = MemoryReplayGuard()
        self.received: list[dict[str, Any]] = []
        self.rejected = 0
        self.lock = threading.Lock()

    def handle(self, body: bytes, signature: str) -> int:
        try:
            doc = verify_callback_signature(
                body, signature, jwks=self.platform.keyring.jwks(), channel_no=self.channel_no,
                now_s=int(self.platform.clock.now().timestamp()), replay_guard=self.guard)
        except InvalidCallback:
            with self.lock:
                self.rejected += 1
            return 401
        with self.lock:
            if doc["id"] not in {d["id"] for d in self.received}:
                self.received.append(doc)
        return 204


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(port: int, receivers: dict[str, Receiver]) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real channel server would

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver = receivers[self.path.strip("/").split("/")[0]]
            self.send_response(receiver.handle(body, self.headers.get(SIGNATURE_HEADER, "")))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 drops connects under parallel POSTs
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_receiver_down_then_back_gets_everything_in_order(
        platform: Platform, make_worker: MakeWorker, clock: FrozenClock) -> None:
    port = _free_port()
    for ch in (CH1, CH2):
        set_callback_url(platform, ch, f"http://127.0.0.1:{port}/{ch}/callback")
    receivers = {ch: Receiver(platform, ch) for ch in (CH1, CH2)}
    events = ("issued", "pin_verified", "suspended", "reinstated", "unlinked")
    expected: dict[tuple[str, str], list[int]] = {}
    for i in range(60):
        ch, sign_no = (CH1, CH2)[i % 2], f"S{i % 7}"
        expected.setdefault((ch, sign_no), []).append(
            enqueue(platform, ch, sign_no, events[i % len(events)]))
    worker = make_worker(RequestsTransport(0.5, 2.0), concurrency=4, batch_size=16)
    try:
        for _ in range(4):  # down: connection refused, the heads back off
            worker.drain()
            clock.advance(minutes=3)
        state = notes(platform)
        assert all(n.status == "pending" for n in state.values())
        assert {n.last_error for n in state.values() if n.attempts} == {
            "connection error: ConnectionRefusedError"}
        assert sum(1 for n in state.values() if n.attempts) == 14  # one head per stream
        with serving(port, receivers):
            clock.advance(minutes=10)
            stats = worker.drain()
        assert stats.delivered == 60 and stats.failed == 0
    finally:
        worker.close()
    assert all(n.status == "delivered" for n in notes(platform).values())
    for ch, receiver in receivers.items():
        assert receiver.rejected == 0
        got: dict[str, list[int]] = {}
        for doc in receiver.received:
            assert doc["channel_no"] == ch
            got.setdefault(doc["sign_no"], []).append(int(doc["id"]))
        assert got == {s: ids for (c, s), ids in expected.items() if c == ch}


def test_non_2xx_and_slow_answers_are_failures(platform: Platform,
                                               make_worker: MakeWorker) -> None:
    port = _free_port()
    set_callback_url(platform, CH1, f"http://127.0.0.1:{port}/{CH1}/callback")
    nid = enqueue(platform, CH1, "S1")
    receiver = Receiver(platform, CH1)
    receiver.handle = lambda body, sig: 302  # type: ignore[method-assign]
    worker = make_worker(RequestsTransport(0.5, 2.0))
    with serving(port, {CH1: receiver}):
        worker.drain()
    assert notes(platform)[nid].status == "pending"
    assert notes(platform)[nid].last_error == "HTTP 302"


def test_payloads_carry_no_personal_data(platform: Platform, make_worker: MakeWorker,
                                         faces_dir: Any) -> None:
    from ecard.audit.services import Actor
    from ecard.cards.interfaces import IssueRequest
    from ecard.registry.services import set_card_status
    from tests.cards.helpers import ENROL, GOOD_PIN, CachingFaceEngine, service
    from tests.support.factories import make_holder, passed_session

    platform.faces = CachingFaceEngine(platform.faces)
    holder = make_holder(platform, name="张三丰", photo=faces_dir / ENROL)
    svc = service(platform)
    with platform.db.transaction() as session:
        svc.issue_card(session, CH1, IssueRequest(
            name=holder.name, id_number=holder.id_number, card_no=holder.card_no,
            certification_session_id=passed_session(platform, holder.person_id, CH1),
            pin=GOOD_PIN))
    with platform.db.transaction() as session:
        set_card_status(session, platform.clock, Actor("operator", "t"), holder.card_no, "lost")
    from ecard.notifications.transport import FakeTransport
    transport = FakeTransport()
    make_worker(transport).drain()
    assert len(transport.sent) >= 2
    secrets = [holder.id_number, holder.id_number[6:14], holder.name,
               holder.card_no, "6222020200112233445", "13800138000", GOOD_PIN]
    for sent in transport.sent:
        text = sent.body.decode() + json.dumps(sent.headers, ensure_ascii=False)
        for secret in secrets:
            assert secret not in text, f"{secret!r} in a callback"
