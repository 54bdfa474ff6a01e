"""The sample app's own records, in one SQLite file in its data folder.

What a channel keeps about its users is its own business: here a username, the sign
number the platform issued to this channel, the enrolled payment device (the app
renders payment codes itself, so it holds the device secret), the claim in progress,
and every callback the platform sent (deduplicated on the notification ``id``, in the
order received). Nothing the platform masks is stored in clear beyond the claim in
progress, which is deleted when the e-card is issued.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY,
    sign_no       TEXT,
    card_status   TEXT,
    device_id     TEXT,
    device_slot   INTEGER,
    device_secret TEXT,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    session_id TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users(username),
    name       TEXT NOT NULL,
    id_number  TEXT NOT NULL,
    card_no    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS callbacks (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    event        TEXT NOT NULL,
    sign_no      TEXT,
    occurred_at  TEXT NOT NULL,
    attempt      INTEGER,
    deliveries   INTEGER NOT NULL DEFAULT 1,
    received_at  TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_callback_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
"""

# Events after which the e-card in this channel is no longer usable / usable again.
CARD_STATUS_EVENTS = {"suspended": "suspended", "revoked": "revoked", "unlinked": "unlinked",
                      "reinstated": "active", "rebound": "active", "issued": "active",
                      "relinked": "active"}


@dataclass(frozen=True)
class User:
    username: str
    sign_no: str | None
    card_status: str | None
    device_id: str | None
    device_slot: int | None
    device_secret: str | None

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "sign_no": self.sign_no,
                "card_status": self.card_status, "payment_device": self.device_id}


@dataclass(frozen=True)
class Claim:
    session_id: str
    username: str
    name: str
    id_number: str
    card_no: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()  # one writer at a time inside this process
        with self._tx() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=10)
            db.row_factory = sqlite3.Row
            try:
                with db:
                    yield db
            finally:
                db.close()

    # -- users ---------------------------------------------------------------
    def create_user(self, username: str) -> bool:
        """False when the username is taken."""
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO users (username, created_at) VALUES (?, ?)",
                             (username, _now()))
            return cur.rowcount == 1

    def user(self, username: str) -> User | None:
        with self._tx() as db:
            row = db.execute("SELECT username, sign_no, card_status, device_id, device_slot, "
                             "device_secret FROM users WHERE username = ?",
                             (username,)).fetchone()
        return None if row is None else User(**dict(row))

    def users(self) -> list[User]:
        with self._tx() as db:
            rows = db.execute("SELECT username, sign_no, card_status, device_id, device_slot, "
                              "device_secret FROM users ORDER BY created_at").fetchall()
        return [User(**dict(r)) for r in rows]

    def holder_of(self, sign_no: str) -> str | None:
        """The user of this app who holds the e-card, if any."""
        with self._tx() as db:
            row = db.execute("SELECT username FROM users WHERE sign_no = ? "
                             "AND card_status IS NOT 'unlinked'", (sign_no,)).fetchone()
        return None if row is None else str(row["username"])

    def set_card(self, username: str, sign_no: str | None, status: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE users SET sign_no = ?, card_status = ? WHERE username = ?",
                       (sign_no, status, username))

    def set_device(self, username: str, device_id: str, slot: int, secret: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE users SET device_id = ?, device_slot = ?, device_secret = ? "
                       "WHERE username = ?", (device_id, slot, secret, username))

    # -- claims in progress --------------------------------------------------
    def start_claim(self, claim: Claim) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO claims (session_id, username, name, id_number, card_no, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (claim.session_id, claim.username, claim.name, claim.id_number,
                        claim.card_no, _now()))

    def claim(self, session_id: str, username: str) -> Claim | None:
        with self._tx() as db:
            row = db.execute("SELECT session_id, username, name, id_number, card_no FROM claims "
                             "WHERE session_id = ? AND username = ?",
                             (session_id, username)).fetchone()
        return None if row is None else Claim(**dict(row))

    def finish_claim(self, session_id: str, username: str, sign_no: str) -> None:
        """The e-card is issued: remember its sign number, forget the identity."""
        with self._tx() as db:
            db.execute("DELETE FROM claims WHERE session_id = ?", (session_id,))
            db.execute("UPDATE users SET sign_no = ?, card_status = 'active' "
                       "WHERE username = ?", (sign_no, username))

    # -- callbacks -----------------------------------------------------------
    def first_use(self, jti: str, expires_at: int) -> bool:
        """The replay cache of ``ecard_sdk.verify_callback`` (its ``ReplayCache``
        protocol), in this file so it outlives a restart of the app."""
        with self._tx() as db:
            db.execute("DELETE FROM seen_callback_tokens WHERE expires_at < ?",
                       (int(datetime.now(UTC).timestamp()),))
            cur = db.execute("INSERT OR IGNORE INTO seen_callback_tokens (jti, expires_at) "
                             "VALUES (?, ?)", (jti, expires_at))
            return cur.rowcount == 1

    def record_callback(self, doc: dict[str, Any], attempt: int | None, body: str) -> bool:
        """Stores a verified callback once; True when it is new (False: a redelivery,
        counted but not acted on again)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO callbacks (id, event, sign_no, occurred_at, attempt, received_at, "
                "body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                (str(doc["id"]), doc["event"], doc.get("sign_no"), doc["occurred_at"],
                 attempt, _now(), body))
            if cur.rowcount == 0:
                db.execute("UPDATE callbacks SET deliveries = deliveries + 1 WHERE id = ?",
                           (str(doc["id"]),))
                return False
            status = CARD_STATUS_EVENTS.get(doc["event"])
            if status and doc.get("sign_no"):
                db.execute("UPDATE users SET card_status = ? WHERE sign_no = ?",
                           (status, doc["sign_no"]))
            return True

    def callbacks(self, sign_no: str | None = None) -> list[dict[str, Any]]:
        query = ("SELECT seq, id, event, sign_no, occurred_at, attempt, deliveries, received_at "
                 "FROM callbacks")
        params: tuple[str, ...] = ()
        if sign_no:
            query += " WHERE sign_no = ?"
            params = (sign_no,)
        with self._tx() as db:
            return [dict(r) for r in db.execute(query + " ORDER BY seq", params)]
