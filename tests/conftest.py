"""Fixtures shared by every test.

The ``app`` fixture runs each test on SQLite and, when ``ECARD_TEST_POSTGRES_URL`` is
set (CI sets it), again on PostgreSQL; without it the PostgreSQL runs are skipped
with a visible reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from ecard import create_app
from ecard.clock import FrozenClock
from ecard.db import Base
from ecard.payments.sms import CapturingSmsGateway
from ecard.payments.views import SMS_EXTRA
from ecard.platform import Platform
from ecard.protect import generate_master_key

# The real face set lives in shared/ beside the checkout (CI clones it so); another
# place can be named with ECARD_TEST_FACES_DIR. No fallback to the small demo copy:
# it lacks most files and would turn a missing set into confusing failures.
FACES = Path(os.environ.get("ECARD_TEST_FACES_DIR")
             or Path(__file__).resolve().parents[1].parent / "shared" / "faces")

POSTGRES_URL = os.environ.get("ECARD_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("ECARD_TEST_REDIS_URL")
TEST_MASTER_KEY = generate_master_key()

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not FACES.exists():
        pytest.skip(f"face images not found at {FACES}")
    return FACES


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private database on the CI PostgreSQL, created once per test run."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set ECARD_TEST_POSTGRES_URL to run these")
    name = f"ecard_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    from ecard.migrations import upgrade
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_database")
        _truncate_postgres(url)
        yield url
    else:
        template = request.getfixturevalue("sqlite_template")
        db_path = tmp_path / "ecard.sqlite3"
        shutil.copyfile(template, db_path)
        yield f"sqlite:///{db_path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per run; each test gets a copy (faster than migrating each time)."""
    from ecard.migrations import upgrade
    path = tmp_path_factory.mktemp("template") / "ecard.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def clock() -> FrozenClock:
    """Starts at the real time (channel tokens are signed with it) and stands still."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def test_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "MASTER_KEY": TEST_MASTER_KEY,
        "RATELIMIT_DEFAULT": "100000 per minute",
    }


@pytest.fixture
def app(test_config: dict[str, Any], clock: FrozenClock) -> Iterator[Flask]:
    app = create_app(test_config, clock=clock)
    platform: Platform = app.extensions["ecard"]
    from ecard.audit.services import Actor
    from ecard.tokens.services import create_signing_key
    with platform.db.transaction() as session:
        create_signing_key(session, platform.protector, clock, Actor.system())
    yield app
    platform.db.dispose()


@pytest.fixture
def platform(app: Flask) -> Platform:
    p: Platform = app.extensions["ecard"]
    return p


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def cached_platform(app: Flask) -> Platform:
    """The app's platform with face encodings remembered across the session."""
    from tests.cards.helpers import CachingFaceEngine
    platform: Platform = app.extensions["ecard"]
    platform.faces = CachingFaceEngine(platform.faces)
    return platform


@pytest.fixture
def sms(platform: Platform) -> CapturingSmsGateway:
    """SMS codes the platform sends, captured instead of sent (payments, SDK flows)."""
    gateway = CapturingSmsGateway()
    platform.extras[SMS_EXTRA] = gateway
    return gateway
