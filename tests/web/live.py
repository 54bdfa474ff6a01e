"""A live H5 server for the browser tests: werkzeug in its own thread on a free port,
SQLite copied from the migrated template, the system clock, a signing key, and
katiehill holding an e-card (her frame 0 as template) in the channel the test names."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from ecard import create_app
from ecard.audit.services import Actor
from ecard.clock import SystemClock
from ecard.platform import Platform
from ecard.tokens.services import create_signing_key
from tests.cards.helpers import signed
from tests.certification.helpers import CachingLandmarkEngine, katie_holder
from tests.conftest import TEST_MASTER_KEY
from tests.support.channel_client import ChannelIdentity, SignedClient


@dataclass
class Live:
    base: str
    app: Flask
    platform: Platform
    client: SignedClient
    sign_no: str


@contextmanager
def live_server(tmp_path: Path, sqlite_template: Path, faces_dir: Path,
                holder_channel: Callable[[Platform], ChannelIdentity]) -> Iterator[Live]:
    """``holder_channel`` registers the channel that holds katiehill's e-card."""
    db = tmp_path / "ecard.sqlite3"
    shutil.copyfile(sqlite_template, db)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}",
                      "INSTANCE_DIR": str(tmp_path / "instance"),
                      "MASTER_KEY": TEST_MASTER_KEY, "RATELIMIT_DEFAULT": "100000 per minute"},
                     clock=SystemClock())
    platform: Platform = app.extensions["ecard"]
    with platform.db.transaction() as session:
        create_signing_key(session, platform.protector, platform.clock, Actor.system())
    platform.faces = CachingLandmarkEngine()
    channel = holder_channel(platform)
    _, sign_no = katie_holder(platform, faces_dir, channel)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", app, platform,
                   signed(app.test_client(), channel), sign_no)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        platform.db.dispose()
