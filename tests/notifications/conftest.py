"""Channels with callback URLs, outbox rows, and workers over the test platform."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from ecard.channels.models import Channel
from ecard.notifications.interfaces import CallbackTransport
from ecard.notifications.models import Notification
from ecard.notifications.retry import RetrySchedule
from ecard.notifications.services import enqueue_notification
from ecard.notifications.worker import CallbackWorker
from ecard.platform import Platform
from tests.channels.conftest import add_channel

CH1 = "1000000001"
CH2 = "1000000002"
URL1 = "http://127.0.0.1:9/ch1/callback"
URL2 = "http://127.0.0.1:9/ch2/callback"


def set_callback_url(platform: Platform, channel_no: str, url: str | None) -> None:
    with platform.db.transaction() as session:
        channel = session.get(Channel, channel_no)
        assert channel is not None
        channel.callback_url = url


def enqueue(platform: Platform, channel_no: str, sign_no: str | None, event: str = "issued",
            **data: Any) -> int:
    with platform.db.transaction() as session:
        note = enqueue_notification(session, platform.clock, channel_no, sign_no, event,
                                    {"sign_no": sign_no, "status": "active", **data})
        session.flush()
        return note.id


def notes(platform: Platform) -> dict[int, Notification]:
    with platform.db.session() as session:
        return {n.id: n for n in session.scalars(select(Notification).order_by(Notification.id))}


MakeWorker = Callable[..., CallbackWorker]


@pytest.fixture
def channels(platform: Platform) -> tuple[str, str]:
    add_channel(platform, CH1)
    add_channel(platform, CH2)
    set_callback_url(platform, CH1, URL1)
    set_callback_url(platform, CH2, URL2)
    return CH1, CH2


@pytest.fixture
def make_worker(platform: Platform) -> MakeWorker:
    def make(transport: CallbackTransport, *, max_attempts: int = 30, concurrency: int = 1,
             batch_size: int = 100, **kw: Any) -> CallbackWorker:
        return CallbackWorker(platform.db, platform.keyring, platform.clock, transport,
                              schedule=RetrySchedule(max_attempts, rng=random.Random(7)),
                              concurrency=concurrency, batch_size=batch_size, **kw)
    return make
