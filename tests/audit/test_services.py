from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ecard.audit.services import Actor, AuditLog, verify_chain
from ecard.platform import Platform


def _tamper(platform: Platform, sql: str) -> None:
    """Run ``sql`` as an attacker with the database owner's rights would: on
    PostgreSQL that means switching the append-only trigger off first."""
    with platform.db.transaction() as session:
        if platform.db.dialect == "postgresql":
            session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        session.execute(text(sql))
        if platform.db.dialect == "postgresql":
            session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _write(platform: Platform, n: int) -> None:
    with platform.db.transaction() as session:
        log = AuditLog(session, platform.clock)
        for i in range(n):
            log.record(Actor("operator", "alice"), "test.event", subject=f"p{i}",
                       channel_no="1000000001", scene="01", details={"i": i})


def test_chain_verifies_when_untouched(platform: Platform) -> None:
    _write(platform, 5)
    with platform.db.session() as session:
        report = verify_chain(session)
    assert report.ok, report.problems
    assert report.entries == 6  # the fixture's signing-key entry + 5


def test_edited_row_is_detected(platform: Platform) -> None:
    _write(platform, 5)
    _tamper(platform, "UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 3")
    with platform.db.session() as session:
        report = verify_chain(session)
    assert not report.ok
    assert any("entry 3" in p and "changed" in p for p in report.problems)


def test_deleted_middle_row_is_detected(platform: Platform) -> None:
    _write(platform, 5)
    _tamper(platform, "DELETE FROM audit_log WHERE seq = 4")
    with platform.db.session() as session:
        report = verify_chain(session)
    assert not report.ok
    assert any("missing" in p for p in report.problems)


def test_deleted_tail_is_detected_by_the_anchor(platform: Platform) -> None:
    _write(platform, 5)
    _tamper(platform, "DELETE FROM audit_log WHERE seq = 6")
    with platform.db.session() as session:
        report = verify_chain(session)
    assert not report.ok
    assert any("anchor" in p for p in report.problems)


def test_postgres_refuses_updates_to_the_audit_log(platform: Platform) -> None:
    if platform.db.dialect != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    _write(platform, 1)
    with pytest.raises(DBAPIError, match="append-only"), platform.db.transaction() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 1"))


def test_concurrent_writers_never_fork_the_chain(platform: Platform) -> None:
    """Threads with their own connections append at once: one chain, no gaps."""
    import threading

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                with platform.db.transaction() as session:
                    AuditLog(session, platform.clock).record(Actor("system", "t"), "race")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with platform.db.session() as session:
        report = verify_chain(session)
    assert report.ok, report.problems
    assert report.entries == 21


def test_a_rolled_back_unit_of_work_leaves_no_audit_entry(platform: Platform) -> None:
    with pytest.raises(RuntimeError), platform.db.transaction() as session:
        AuditLog(session, platform.clock).record(Actor("system", "t"), "doomed")
        raise RuntimeError("the change after the audit entry failed")
    with platform.db.session() as session:
        report = verify_chain(session)
    assert report.ok and report.entries == 1
