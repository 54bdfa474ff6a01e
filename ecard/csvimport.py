"""What the two streamed CSV imports (the card registry, pension recipients) share.

Both read a file in batches, one transaction each, and refuse a row whose key an
earlier row of the same file already had. The keys seen so far live in a temporary
table on the import's own connection (:class:`SeenKeys`), so memory stays flat
whatever the file's size. A refused row goes to ``<file>.rejects.csv`` cut or padded
to the header's width (:func:`fit_to_header`), so line and reason stay in their
columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Connection


class SeenKeys:
    """Keys met so far in one file, with the line that had each first."""

    def __init__(self, conn: Connection, prefix: str, *, key_length: int = 80) -> None:
        self.conn = conn
        self.table = Table(f"{prefix}_{uuid.uuid4().hex[:12]}", MetaData(),
                           Column("k", String(key_length), primary_key=True),
                           Column("line", Integer), prefixes=["TEMPORARY"])
        with conn.begin():
            self.table.create(conn)

    def lines(self, keys: Collection[str]) -> dict[str, int]:
        """The line of each of ``keys`` that an earlier batch already had."""
        if not keys:
            return {}
        t = self.table
        return {k: line for k, line in self.conn.execute(
            select(t.c.k, t.c.line).where(t.c.k.in_(keys)))}

    def add(self, claims: Iterable[tuple[str, int]]) -> None:
        """Remember ``(key, line)`` pairs (inside the batch's transaction)."""
        rows = [{"k": k, "line": line} for k, line in claims]
        if rows:
            self.conn.execute(insert(self.table), rows)

    def drop(self) -> None:
        """Drop the table (after a failed batch too: its transaction is rolled back)."""
        if self.conn.in_transaction():
            self.conn.rollback()
        with self.conn.begin():
            self.table.drop(self.conn)


def fit_to_header(fields: list[str], width: int, reason: str) -> tuple[list[str], str]:
    """The row cut or padded to ``width`` fields; what was cut is named in the reason."""
    if len(fields) > width:
        reason = f"{reason} (fields beyond the header: {fields[width:]!r})"
    return (fields + [""] * width)[:width], reason
