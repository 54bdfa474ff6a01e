"""Database access: one engine per app, one session per request or command.

Domain services receive a :class:`sqlalchemy.orm.Session` and never open their own;
the view (or CLI command) owns the transaction through :meth:`Database.transaction`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite runs in pysqlite's default transaction mode: it issues BEGIN before the first
# INSERT/UPDATE/DELETE, so a unit of work takes the write lock at its first write and
# waits (busy_timeout) for another process's. Code must therefore never make a
# SAVEPOINT its first statement (pysqlite would commit at RELEASE): write first, or
# avoid savepoints, as the audit log does.
def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error, except
        an error marked ``keeps_writes`` (a counted wrong PIN), which commits first."""
        with self.sessionmaker() as session:
            session.begin()
            try:
                yield session
            except BaseException as exc:
                if getattr(exc, "keeps_writes", False):
                    session.commit()
                else:
                    session.rollback()
                raise
            session.commit()

    def session(self) -> Session:
        return self.sessionmaker()

    def create_all(self) -> None:
        """Create the schema directly (tests); production uses ``ecard db upgrade``."""
        import ecard.models  # noqa: F401  (registers every table)

        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
