"""``Idempotency-Key`` on POSTs: a retried request gets the first answer back.

A channel (the SDK does it on every POST) sends ``Idempotency-Key: <1-128 printable
ASCII characters>``. The first request with a key claims it by inserting
``(channel_no, key)``: the primary key decides, in a short transaction of its own,
whichever process or machine sees the duplicate. The answer is stored with the
request's hash; a retry with the same key and the same request gets it back with
``Idempotent-Replayed: true``.

* Same key, different method, path or body: 409 ``IDEMPOTENCY_KEY_REUSED``.
* Same key while the first request is still running: 409 ``IDEMPOTENCY_IN_PROGRESS``
  (the SDK retries 409s). A claim left behind by a crashed process is taken over
  after :data:`IN_FLIGHT_TIMEOUT_S`.
* 2xx and 4xx answers are stored; 401, 429 and 5xx are not (the key is released),
  because a retry with a fresh token, later, or after a fault may succeed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Response, current_app, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from ecard.clock import Clock
from ecard.errors import EcardError
from ecard.http.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 128
IN_FLIGHT_TIMEOUT_S = 120
RETENTION_S = 24 * 3600
_NOT_STORED = frozenset({401, 429})
_CLAIM_ROUNDS = 3

F = TypeVar("F", bound=Callable[..., Any])


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise EcardError("IDEMPOTENCY_KEY_INVALID")
    return key


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), hashlib.sha256(body).digest()):
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.hexdigest()


def storable(status: int) -> bool:
    return status < 500 and status not in _NOT_STORED


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: bytes


class IdempotencyStore:
    """Claims, completes and releases keys; each step is its own short transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self.clock = clock

    def claim(self, channel_no: str, key: str, req_hash: str) -> StoredAnswer | None:
        """None when this request now owns the key; the stored answer for a replay;
        ``IDEMPOTENCY_KEY_REUSED`` / ``IDEMPOTENCY_IN_PROGRESS`` otherwise."""
        for _ in range(_CLAIM_ROUNDS):
            now = self.clock.now()
            try:
                with self._sessions() as session, session.begin():
                    session.add(IdempotencyRecord(channel_no=channel_no, key=key,
                                                  request_hash=req_hash, status_code=None,
                                                  response_body=None, created_at=now))
                return None
            except IntegrityError:
                pass
            with self._sessions() as session, session.begin():
                record = session.get(IdempotencyRecord, (channel_no, key))
                if record is None:
                    continue  # released meanwhile: claim again
                age = now - record.created_at
                if record.status_code is not None and age > timedelta(seconds=RETENTION_S):
                    self._delete_if(session, channel_no, key, record)
                    continue
                if record.request_hash != req_hash:
                    raise EcardError("IDEMPOTENCY_KEY_REUSED")
                if record.status_code is not None and record.response_body is not None:
                    return StoredAnswer(record.status_code, record.response_body)
                if age > timedelta(seconds=IN_FLIGHT_TIMEOUT_S) and self._take_over(
                        session, channel_no, key, record, now):
                    return None
            raise EcardError("IDEMPOTENCY_IN_PROGRESS")
        raise EcardError("IDEMPOTENCY_IN_PROGRESS")

    def complete(self, channel_no: str, key: str, status_code: int, body: bytes) -> None:
        with self._sessions() as session, session.begin():
            session.execute(update(IdempotencyRecord).where(
                IdempotencyRecord.channel_no == channel_no, IdempotencyRecord.key == key)
                .values(status_code=status_code, response_body=body))

    def release(self, channel_no: str, key: str) -> None:
        with self._sessions() as session, session.begin():
            session.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.channel_no == channel_no, IdempotencyRecord.key == key,
                IdempotencyRecord.status_code.is_(None)))

    def purge(self, older_than_s: int = RETENTION_S) -> int:
        """Delete answers past their retention (for a periodic job)."""
        cutoff = self.clock.now() - timedelta(seconds=older_than_s)
        with self._sessions() as session, session.begin():
            ids = session.execute(select(IdempotencyRecord.channel_no, IdempotencyRecord.key)
                                  .where(IdempotencyRecord.created_at < cutoff)).all()
            for channel_no, key in ids:
                session.execute(delete(IdempotencyRecord).where(
                    IdempotencyRecord.channel_no == channel_no, IdempotencyRecord.key == key))
        return len(ids)

    @staticmethod
    def _delete_if(session: Session, channel_no: str, key: str,
                   record: IdempotencyRecord) -> None:
        session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.channel_no == channel_no, IdempotencyRecord.key == key,
            IdempotencyRecord.created_at == record.created_at))

    @staticmethod
    def _take_over(session: Session, channel_no: str, key: str, record: IdempotencyRecord,
                   now: Any) -> bool:
        """Adopt a claim whose owner died; the conditional UPDATE lets one taker win."""
        result = session.execute(update(IdempotencyRecord).where(
            IdempotencyRecord.channel_no == channel_no, IdempotencyRecord.key == key,
            IdempotencyRecord.status_code.is_(None),
            IdempotencyRecord.created_at == record.created_at).values(created_at=now))
        return bool(getattr(result, "rowcount", 0) == 1)


def _as_response(view: Callable[..., Any], args: Any, kwargs: Any) -> Response:
    """Run the view and turn its result, or the error it raised, into a Response."""
    try:
        rv = view(*args, **kwargs)
    except (EcardError, HTTPException) as exc:
        rv = current_app.handle_user_exception(exc)
    return current_app.make_response(rv)


def idempotent(caller_id: Callable[[], str]) -> Callable[[F], F]:
    """Decorate a POST view (under the authentication decorator): ``caller_id``
    names the authenticated channel that owns the keys."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw = request.headers.get(HEADER)
            if raw is None:
                return view(*args, **kwargs)
            key = check_key(raw)
            from ecard.platform import current_platform

            platform = current_platform()
            store = IdempotencyStore(platform.db.sessionmaker, platform.clock)
            channel_no = caller_id()
            path = request.full_path[:-1] if request.full_path.endswith("?") \
                else request.full_path
            stored = store.claim(channel_no, key,
                                 request_hash(request.method, path, request.get_data()))
            if stored is not None:
                replay = Response(stored.body, status=stored.status_code,
                                  mimetype="application/json")
                replay.headers[REPLAYED_HEADER] = "true"
                return replay
            try:
                response = _as_response(view, args, kwargs)
            except BaseException:
                store.release(channel_no, key)
                raise
            if storable(response.status_code):
                store.complete(channel_no, key, response.status_code, response.get_data())
            else:
                store.release(channel_no, key)
            return response

        return cast(F, wrapper)

    return decorator
