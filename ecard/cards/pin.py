"""The e-card PIN: one per person across every channel.

Rules (DESIGN): exactly six ASCII digits; no runs (123456, 654321, 012345), no
repeats (111111, 121212, 123123), nothing taken from the ID number (any six
consecutive digits of it) and no form of the birth date (YYMMDD, MMDDYY, DDMMYY).

Hashing: Argon2id with the RFC 9106 "low memory" parameters (argon2-cffi's
defaults, written out so that a library upgrade cannot change them silently).
One hash costs about 130 ms on the reference machine: it stays off hot paths
(issuance, unlink, payment confirmation only).

Wrong tries are counted in the database with an atomic ``UPDATE ... SET
failed_attempts = failed_attempts + 1``, in a transaction of their own so that the
count sticks even though the request that carried the wrong PIN fails. After
:data:`MAX_FAILED_ATTEMPTS` the PIN is locked until a face check resets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.models import Pin
from ecard.clock import Clock
from ecard.db import UTCDateTime
from ecard.errors import PinError

PIN_LENGTH = 6
MAX_FAILED_ATTEMPTS = 6
_DIGITS = frozenset("0123456789")

# argon2-cffi 23/25 defaults (RFC 9106 second recommended option): 64 MiB, 3 passes.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 4


def make_hasher(time_cost: int = ARGON2_TIME_COST, memory_kib: int = ARGON2_MEMORY_KIB,
                parallelism: int = ARGON2_PARALLELISM) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                          parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID)


def check_pin_format(pin: object) -> str:
    if not isinstance(pin, str) or len(pin) != PIN_LENGTH or not set(pin) <= _DIGITS:
        raise PinError("PIN_FORMAT_INVALID")
    return pin


def weakness(pin: str, id_number: str) -> str | None:
    """Why ``pin`` may not be chosen by the holder of ``id_number``, or None."""
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in pairwise(digits)}
    if steps == {1} or steps == {-1}:
        return "run"
    if len(set(pin)) == 1 or pin == pin[:2] * 3 or pin == pin[:3] * 2:
        return "repeat"
    if pin in id_number.upper():
        return "from_id_number"
    if len(id_number) >= 14:
        yy, mm, dd = id_number[8:10], id_number[10:12], id_number[12:14]
        if pin in {yy + mm + dd, mm + dd + yy, dd + mm + yy, yy + dd + mm}:
            return "birth_date"
    return None


def check_new_pin(pin: object, id_number: str) -> str:
    """A PIN the holder may set, or ``PIN_FORMAT_INVALID`` / ``PIN_TOO_WEAK``."""
    value = check_pin_format(pin)
    reason = weakness(value, id_number)
    if reason is not None:
        raise PinError("PIN_TOO_WEAK", details={"reason": reason})
    return value


@dataclass(frozen=True)
class PinCheck:
    """A right PIN: ``rehashed`` when the stored hash used older parameters."""

    person_id: int
    rehashed: bool


class PinService:
    """Sets, checks and resets PINs.

    :meth:`verify` works in the caller's transaction. A wrong PIN must be counted even
    though the request fails, so its error carries ``keeps_writes``: the transaction
    (``Database.transaction``) commits the count and its audit entry, then raises.
    Callers verify the PIN before writing anything else, so nothing more is kept.
    """

    def __init__(self, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self.clock = clock
        self.hasher = hasher or make_hasher()

    def hash(self, pin: str) -> str:
        return self.hasher.hash(pin)

    def has_pin(self, session: Session, person_id: int) -> bool:
        return session.get(Pin, person_id) is not None

    def set_initial(self, session: Session, person_id: int, pin: str) -> Pin:
        """The person's first PIN, in the caller's transaction (the primary key on
        ``person_id`` refuses a second first PIN set concurrently)."""
        now = self.clock.now()
        row = Pin(person_id=person_id, pin_hash=self.hash(pin), failed_attempts=0,
                  locked_at=None, updated_at=now)
        session.add(row)
        session.flush()
        return row

    def reset(self, session: Session, person_id: int, new_pin: str) -> None:
        """A new PIN after a face check: unlocks and clears the counter."""
        session.execute(
            update(Pin).where(Pin.person_id == person_id)
            .values(pin_hash=self.hash(new_pin), failed_attempts=0, locked_at=None,
                    updated_at=self.clock.now()))

    def verify(self, session: Session, person_id: int, pin: str, *, actor: Actor,
               channel_no: str, wrong_code: str = "PIN_WRONG") -> PinCheck:
        """Check ``pin``; raise ``wrong_code`` (with the tries left) or ``PIN_LOCKED``.

        The row is locked (``FOR UPDATE``) for the check so that concurrent tries for
        one person are counted one after the other on PostgreSQL; the increment is a
        single atomic UPDATE on every backend.
        """
        check_pin_format(pin)
        row = session.scalars(
            select(Pin).where(Pin.person_id == person_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise PinError("PIN_REQUIRED")
        if row.locked_at is not None or row.failed_attempts >= MAX_FAILED_ATTEMPTS:
            raise PinError("PIN_LOCKED", details={"remaining_attempts": 0})
        if self._matches(row.pin_hash, pin):
            rehashed = self.hasher.check_needs_rehash(row.pin_hash)
            values: dict[str, object] = {"failed_attempts": 0}
            if rehashed:
                values["pin_hash"] = self.hash(pin)
            if row.failed_attempts or rehashed:
                session.execute(update(Pin).where(Pin.person_id == person_id)
                                .values(updated_at=self.clock.now(), **values))
            return PinCheck(person_id, rehashed)
        attempts = self._count_failure(session, person_id, self.clock.now())
        locked = attempts >= MAX_FAILED_ATTEMPTS
        AuditLog(session, self.clock).record(
            actor, "pin.locked" if locked else "pin.wrong", subject=f"person:{person_id}",
            channel_no=channel_no, scene="pin", details={"failed_attempts": attempts})
        remaining = max(MAX_FAILED_ATTEMPTS - attempts, 0)
        if locked:
            raise PinError("PIN_LOCKED", details={"remaining_attempts": 0}, keeps_writes=True)
        raise PinError(wrong_code, details={"remaining_attempts": remaining}, keeps_writes=True)

    def _matches(self, pin_hash: str, pin: str) -> bool:
        try:
            return self.hasher.verify(pin_hash, pin)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _count_failure(session: Session, person_id: int, now: datetime) -> int:
        attempts_after = Pin.failed_attempts + 1
        session.execute(
            update(Pin).where(Pin.person_id == person_id).values(
                failed_attempts=attempts_after,
                locked_at=case((attempts_after >= MAX_FAILED_ATTEMPTS, literal(now, UTCDateTime())),
                               else_=Pin.locked_at),
                updated_at=now))
        count: int = session.scalars(
            select(Pin.failed_attempts).where(Pin.person_id == person_id)).one()
        return count
