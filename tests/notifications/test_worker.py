"""The worker over an in-memory transport: order, backoff, dead letters, redelivery,
concurrent workers."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from click.testing import CliRunner

from ecard.clock import FrozenClock
from ecard.notifications.interfaces import DeliveryResult
from ecard.notifications.retry import BASE_DELAYS_S, MAX_DELAY_S, RetrySchedule
from ecard.notifications.services import redeliver
from ecard.notifications.signing import ATTEMPT_HEADER, SIGNATURE_HEADER
from ecard.notifications.transport import FakeTransport
from ecard.platform import Platform
from tests.channels.conftest import OPERATOR
from tests.notifications.conftest import (
    CH1,
    CH2,
    URL1,
    MakeWorker,
    enqueue,
    notes,
    set_callback_url,
)

pytestmark = pytest.mark.usefixtures("channels")
FAIL = DeliveryResult(False, 503, "HTTP 503")
REFUSED = DeliveryResult(False, None, "connection error: ConnectionRefusedError")


def _ids(transport: FakeTransport) -> list[int]:
    return [int(json.loads(s.body)["id"]) for s in transport.sent]


def test_delivers_in_order_and_marks_delivered(platform: Platform,
                                               make_worker: MakeWorker) -> None:
    ids = [enqueue(platform, CH1, "A"), enqueue(platform, CH1, "A", "suspended"),
           enqueue(platform, CH2, "B"), enqueue(platform, CH1, None, "issued")]
    transport = FakeTransport()
    stats = make_worker(transport).drain()
    assert stats.delivered == 4 and stats.failed == 0
    assert sorted(_ids(transport)) == ids
    assert _ids(transport).index(ids[0]) < _ids(transport).index(ids[1])
    assert all(n.status == "delivered" and n.attempts == 1 and n.lease_owner is None
               for n in notes(platform).values())
    assert {s.url for s in transport.sent if json.loads(s.body)["channel_no"] == CH1} == {URL1}


def test_failed_head_blocks_its_ecard_only(platform: Platform, make_worker: MakeWorker,
                                           clock: FrozenClock) -> None:
    a1, a2, a3 = (enqueue(platform, CH1, "A", e) for e in ("issued", "suspended",
                                                            "reinstated"))
    b1, b2 = enqueue(platform, CH1, "B"), enqueue(platform, CH1, "B", "unlinked")
    c1 = enqueue(platform, CH2, "A")  # same sign_no in another channel: another stream
    first = {a1}

    def respond(url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        nid = int(json.loads(body)["id"])
        if nid in first:
            first.discard(nid)
            return FAIL
        return DeliveryResult(True, 200)

    transport = FakeTransport(respond)
    worker = make_worker(transport)
    worker.drain()
    assert _ids(transport) == [a1, b1, c1, b2]
    state = notes(platform)
    assert state[a1].status == "pending" and state[a1].last_error == "HTTP 503"
    assert state[a2].attempts == 0 and state[a3].attempts == 0
    clock.advance(seconds=13)  # past the first delay, 10 s ±20 %
    worker.drain()
    assert _ids(transport)[4:] == [a1, a2, a3]
    sent_a1 = [s for s in transport.sent if int(json.loads(s.body)["id"]) == a1]
    assert [s.headers[ATTEMPT_HEADER] for s in sent_a1] == ["1", "2"]
    assert sent_a1[0].body == sent_a1[1].body
    assert all(n.status == "delivered" for n in notes(platform).values())


def test_backoff_schedule_with_a_fake_clock(platform: Platform, make_worker: MakeWorker,
                                            clock: FrozenClock) -> None:
    nid = enqueue(platform, CH1, "A")
    worker = make_worker(FakeTransport(lambda *a: FAIL), max_attempts=12)
    delays = []
    for _ in range(11):
        before = clock.now()
        assert worker.drain().claimed == 1
        due = notes(platform)[nid].next_attempt_at
        delays.append((due - before).total_seconds())
        clock.set(due - timedelta(seconds=1))
        assert worker.drain().claimed == 0, "tried before it was due"
        clock.set(due)
    expected = [*BASE_DELAYS_S, MAX_DELAY_S, MAX_DELAY_S, MAX_DELAY_S]
    for got, base in zip(delays, expected, strict=True):
        assert base * 0.8 - 1 <= got <= min(base * 1.2, MAX_DELAY_S) + 1, (got, base)
    assert len(set(delays)) > 5, "no jitter"


def test_schedule_is_capped_and_jitter_isolated() -> None:
    class NoJitter(RetrySchedule):
        def _add_jitter(self, seconds: float) -> float:
            return seconds

    s = NoJitter(30)
    assert [s.delay_s(n) for n in range(1, 12)] == [
        10, 30, 60, 120, 300, 600, 1200, 2400, 3600, 3600, 3600]
    assert sum(s.delay_s(n) for n in range(1, 30)) / 3600 == pytest.approx(22.3, abs=0.1)
    high = RetrySchedule(30, rng=random.Random(1))
    assert all(8 <= high.delay_s(1) <= 12 for _ in range(200))
    assert all(high.delay_s(40) <= MAX_DELAY_S for _ in range(200))
    assert not s.exhausted(29) and s.exhausted(30)


def test_dead_letter_after_the_limit_then_redeliver(platform: Platform,
                                                    make_worker: MakeWorker,
                                                    clock: FrozenClock) -> None:
    nid, later = enqueue(platform, CH1, "A"), enqueue(platform, CH1, "A", "suspended")
    answers = {"ok": False}
    transport = FakeTransport(lambda *a: DeliveryResult(True, 200) if answers["ok"] else FAIL)
    worker = make_worker(transport, max_attempts=3)
    for _ in range(3):
        worker.drain()
        clock.advance(hours=2)
    state = notes(platform)
    assert state[nid].status == "dead" and state[nid].attempts == 3
    assert state[later].status == "pending" and state[later].attempts == 0  # still held
    assert worker.drain().claimed == 0
    answers["ok"] = True
    with platform.db.transaction() as session:
        assert redeliver(session, clock, OPERATOR, channel_no=CH1, status="dead") == [nid]
    worker.drain()
    state = notes(platform)
    assert state[nid].status == "delivered" and state[nid].attempts == 4
    assert state[nid].attempts_at_reset == 3 and state[later].status == "delivered"
    assert _ids(transport)[-2:] == [nid, later]
    assert transport.sent[-2].headers[ATTEMPT_HEADER] == "4"


def test_channel_without_url_waits_then_flows(platform: Platform,
                                              make_worker: MakeWorker) -> None:
    set_callback_url(platform, CH2, None)
    nid = enqueue(platform, CH2, "B")
    transport = FakeTransport()
    worker = make_worker(transport)
    assert worker.drain().claimed == 0
    assert notes(platform)[nid].status == "pending" and notes(platform)[nid].attempts == 0
    set_callback_url(platform, CH2, "http://127.0.0.1:9/late")
    worker.drain()
    assert notes(platform)[nid].status == "delivered"


def test_a_success_wakes_what_failed_to_connect(platform: Platform, make_worker: MakeWorker,
                                                clock: FrozenClock) -> None:
    a, b = enqueue(platform, CH1, "A"), enqueue(platform, CH1, "B")
    up = {"yes": False}
    transport = FakeTransport(lambda *x: DeliveryResult(True, 200) if up["yes"] else REFUSED)
    worker = make_worker(transport)
    for _ in range(6):  # down for a while: the heads back off to minutes
        worker.drain()
        clock.set(min(n.next_attempt_at for n in notes(platform).values()))
    up["yes"] = True
    c = enqueue(platform, CH1, "C")  # new traffic reaches the channel at once...
    worker.drain()
    assert {n: notes(platform)[n].status for n in (a, b, c)} == {
        a: "delivered", b: "delivered", c: "delivered"}  # ...and wakes the others


def test_cli_list_and_redeliver(platform: Platform, make_worker: MakeWorker,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from ecard.cli import Context, main
    nid = enqueue(platform, CH1, "A")
    make_worker(FakeTransport(lambda *a: FAIL), max_attempts=1).drain()
    monkeypatch.setattr(Context, "platform", property(lambda self: platform))
    runner = CliRunner()
    out = runner.invoke(main, ["callbacks", "list", "--status", "dead"])
    assert out.exit_code == 0, out.output
    assert f"{nid}" in out.output and "dead" in out.output and "HTTP 503" in out.output
    out = runner.invoke(main, ["callbacks", "redeliver", "--channel", CH1])
    assert out.exit_code == 0 and "redelivering 1" in out.output
    assert notes(platform)[nid].status == "pending"
    assert runner.invoke(main, ["callbacks", "redeliver"]).exit_code == 2


def test_two_workers_never_send_one_attempt_twice(platform: Platform,
                                                  make_worker: MakeWorker) -> None:
    expected = [enqueue(platform, ch, f"S{i % 40}") for i in range(300) for ch in (CH1, CH2)
                if (i + (ch == CH2)) % 2 == 0]
    transport = FakeTransport()
    workers = [make_worker(transport, batch_size=10, concurrency=2, name=f"w{i}")
               for i in range(3)]
    errors: list[BaseException] = []

    def run(w: object) -> None:
        try:
            for _ in range(200):
                if w.drain().claimed == 0 and all(  # type: ignore[attr-defined]
                        n.status == "delivered" for n in notes(platform).values()):
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for w in workers:
        w.close()
    assert not errors, errors
    jtis = Counter(s.headers[SIGNATURE_HEADER].split(".")[1] for s in transport.sent)
    assert max(jtis.values()) == 1
    assert sorted(_ids(transport)) == sorted(expected)  # each exactly once
    by_stream: dict[tuple[str, str], list[int]] = {}
    for s in transport.sent:
        doc = json.loads(s.body)
        by_stream.setdefault((doc["channel_no"], doc["sign_no"]), []).append(int(doc["id"]))
    assert all(ids == sorted(ids) for ids in by_stream.values())


def test_a_new_callback_url_takes_the_pending_at_once(platform: Platform,
                                                      make_worker: MakeWorker) -> None:
    """``set_callback_url``: what backed off at the old address is tried at the new one
    now; what was delivered or dead-lettered is left alone."""
    from ecard.channels.services import set_callback_url as change_url
    from ecard.notifications.transport import FakeTransport as Fake
    a, b = enqueue(platform, CH1, "A"), enqueue(platform, CH1, "B")
    failing = Fake(lambda *x: FAIL)
    make_worker(failing).drain()
    assert all(n.next_attempt_at > platform.clock.now() for n in notes(platform).values()
               if n.channel_no == CH1)
    with platform.db.transaction() as session:
        _, due = change_url(session, platform.clock, OPERATOR, CH1,
                            "http://127.0.0.1:9/moved")
    assert due == 2
    moved = Fake()
    assert make_worker(moved).drain().delivered == 2
    assert {s.url for s in moved.sent} == {"http://127.0.0.1:9/moved"}
    assert {notes(platform)[n].attempts for n in (a, b)} == {2}
    with platform.db.transaction() as session:  # the same URL again changes nothing
        _, due = change_url(session, platform.clock, OPERATOR, CH1,
                            "http://127.0.0.1:9/moved")
    assert due == 0
