"""``ecard certification`` through click's test runner, against the test database:
import-recipients (every reject reason, idempotent re-run), refresh-status (statuses
and the notifications it enqueues), record-death and stats.

The commands run on the real clock, in the platform's local day (UTC+8 by default),
so dates here are computed from that day.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.cards.models import ECard, allocate_status_index
from ecard.certification.entitlement import add_months
from ecard.certification.models import BenefitRecipient, CertificationAttempt
from ecard.certification.services import age_band
from ecard.cli import main
from ecard.notifications.models import Notification
from ecard.platform import Platform
from tests.cards.helpers import ENROL, CachingFaceEngine, make_channel, signed
from tests.support.factories import Holder, make_holder, make_id_number

CHANNEL = "1000000001"
HEADER = ["aac002", "type", "monthly_pension_fen", "funeral_grant_fen",
          "survivor_lump_sum_fen", "region", "bank_account", "certified_until"]
ACCOUNT = "6222020200998877665"


def local_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


@pytest.fixture
def run(platform: Platform, test_config: dict[str, Any]) -> Any:
    env = {"ECARD_DATABASE_URL": test_config["DATABASE_URL"],
           "ECARD_MASTER_KEY": test_config["MASTER_KEY"],
           "ECARD_INSTANCE_DIR": test_config["INSTANCE_DIR"], "ECARD_OPERATOR": "alice",
           "ECARD_REDIS_URL": ""}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return invoke


def _holder(platform: Platform, seq: int, birth: str = "19550307", **kw: Any) -> Holder:
    return make_holder(platform, id_number=make_id_number("110101", birth, f"{seq:03d}"),
                       card_no=f"R{seq:08d}", **kw)


def _write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _recipients(platform: Platform) -> dict[int, BenefitRecipient]:
    with platform.db.session() as session:
        return {r.person_id: r for r in session.scalars(select(BenefitRecipient))}


def test_import_recipients_good_rows_every_reject_and_an_idempotent_rerun(
        run: Any, platform: Platform, tmp_path: Path) -> None:
    a, b = _holder(platform, 1), _holder(platform, 2)
    soon = (local_today() + timedelta(days=40)).isoformat()
    unknown = make_id_number("110101", "19500101", "099")
    good_a = [a.id_number, "enterprise_retiree", "300000", "1500000", "2700000", "110101",
              ACCOUNT, ""]
    good_b = [b.id_number, "resident", "150000", "0", "0", "440305", ACCOUNT, soon]
    rows = [
        good_a, good_b,
        [a.id_number, "resident"],                                         # COLUMN_COUNT
        [a.id_number[:-1] + "0", *good_a[1:]],                             # ID_INVALID
        [unknown, *good_a[1:]],                                            # PERSON_NOT_FOUND
        [a.id_number, "farmer", *good_a[2:]],                              # TYPE_INVALID
        [a.id_number, "resident", "0", "0", "0", "110101", ACCOUNT, ""],   # AMOUNT_INVALID
        [a.id_number, "resident", "12.50", "0", "0", "110101", ACCOUNT, ""],  # AMOUNT_INVALID
        [a.id_number, "resident", "100", "0", "0", "1101", ACCOUNT, ""],   # REGION_INVALID
        [a.id_number, "resident", "100", "0", "0", "110101", "62220", ""],  # BANK_ACCOUNT_
        [a.id_number, "resident", "100", "0", "0", "110101", ACCOUNT, "2026-13-01"],  # DATE
        good_a,                                                            # DUPLICATE_ID
    ]
    src = _write(tmp_path / "recipients.csv", rows)
    result = run("certification", "import-recipients", str(src), "--no-progress")
    assert result.exit_code == 0, result.output
    assert ("read 12  inserted 2  updated 0  unchanged 0  rejected 10"
            in result.output), result.output
    assert "AMOUNT_INVALID 2" in result.output
    assert a.id_number not in result.output and unknown not in result.output
    with (tmp_path / "recipients.csv.rejects.csv").open(encoding="utf-8") as fh:
        rejects = list(csv.DictReader(fh))
    # written as found: shape checks per row first, then the registry look-up of a batch
    assert sorted(((r["line"], r["reason_code"]) for r in rejects),
                  key=lambda x: int(x[0])) == [
        ("4", "COLUMN_COUNT"), ("5", "ID_INVALID"), ("6", "PERSON_NOT_FOUND"),
        ("7", "TYPE_INVALID"), ("8", "AMOUNT_INVALID"), ("9", "AMOUNT_INVALID"),
        ("10", "REGION_INVALID"), ("11", "BANK_ACCOUNT_INVALID"), ("12", "DATE_INVALID"),
        ("13", "DUPLICATE_ID_IN_FILE")]
    assert all(r["reason"] for r in rejects)

    got = _recipients(platform)
    ra, rb = got[a.person_id], got[b.person_id]
    # (funeral grant + survivor lump sum) / monthly pension = 14 months; from today
    assert (ra.type, ra.period_months, ra.status) == ("enterprise_retiree", 14, "valid")
    assert ra.certified_until == add_months(local_today(), 14)
    assert (rb.type, rb.period_months, rb.status) == ("resident", 12, "warning")
    assert rb.certified_until.isoformat() == soon
    assert ACCOUNT.encode() not in ra.bank_account_enc
    assert platform.protector.decrypt_str(ra.bank_account_enc,
                                          "recipient.bank_account") == ACCOUNT

    again = run("certification", "import-recipients", str(src), "--no-progress",
                "--rejects", str(tmp_path / "r2.csv"))
    assert "inserted 0  updated 0  unchanged 2  rejected 10" in again.output
    assert _recipients(platform)[a.person_id].updated_at == ra.updated_at

    changed = _write(tmp_path / "changed.csv", [
        [a.id_number, "enterprise_retiree", "100000", "3000000", "0", "110101", ACCOUNT, ""]])
    third = run("certification", "import-recipients", str(changed), "--no-progress")
    assert "inserted 0  updated 1  unchanged 0  rejected 0" in third.output
    assert _recipients(platform)[a.person_id].period_months == 24  # 30 months, clamped
    with platform.db.session() as session:
        audits = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "certification.recipients_imported")).all()
        assert [(e.actor_type, e.actor_id, e.details["rejected"]) for e in audits] == [
            ("operator", "alice", 10), ("operator", "alice", 10), ("operator", "alice", 0)]


def test_import_recipients_refuses_unusable_files(run: Any, tmp_path: Path) -> None:
    missing = run("certification", "import-recipients", str(tmp_path / "nope.csv"),
                  "--no-progress")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    short = _write(tmp_path / "short.csv", [], header=["aac002", "type"])
    result = run("certification", "import-recipients", str(short), "--no-progress")
    assert result.exit_code == 2 and "missing columns monthly_pension_fen" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    result = run("certification", "import-recipients", str(empty), "--no-progress")
    assert result.exit_code == 2 and "no readable header row" in result.output


def _ecard(platform: Platform, holder: Holder) -> str:
    now = platform.clock.now()
    sign_no = f"110101X{holder.person_id:015d}"
    with platform.db.transaction() as s:
        s.add(ECard(sign_no=sign_no, person_id=holder.person_id, channel_no=CHANNEL,
                    card_id=holder.card_id,
                    openid=platform.protector.pseudonym(CHANNEL, str(holder.person_id)),
                    status_index=allocate_status_index(s, now), level=1, status="active",
                    face_score=0.4, issued_at=now, updated_at=now, unlinked_at=None))
    return sign_no


def _import(run: Any, tmp_path: Path, rows: list[tuple[Holder, date]]) -> None:
    src = _write(tmp_path / "r.csv", [
        [h.id_number, "resident", "150000", "0", "0", "110101", ACCOUNT, until.isoformat()]
        for h, until in rows])
    result = run("certification", "import-recipients", str(src), "--no-progress")
    assert "rejected 0" in result.output, result.output


def test_refresh_status_moves_statuses_and_notifies_the_holders_channels(
        run: Any, platform: Platform, tmp_path: Path) -> None:
    make_channel(platform, CHANNEL)
    today = local_today()
    valid, warn, late, dead = (_holder(platform, i) for i in (1, 2, 3, 4))
    cards = {h.person_id: _ecard(platform, h) for h in (valid, warn, late, dead)}
    _import(run, tmp_path, [(valid, today + timedelta(days=200)),
                            (warn, today + timedelta(days=200)),
                            (late, today + timedelta(days=200)),
                            (dead, today - timedelta(days=5))])
    died = run("certification", "record-death", dead.id_number, "--date", "2026-01-15")
    assert died.exit_code == 0, died.output
    with platform.db.transaction() as session:  # time passes for two of them
        for r in session.scalars(select(BenefitRecipient)):
            if r.person_id == warn.person_id:
                r.certified_until = today + timedelta(days=30)
            if r.person_id == late.person_id:
                r.certified_until = today - timedelta(days=1)
    result = run("certification", "refresh-status", "--no-progress")
    assert result.exit_code == 0, result.output
    assert ("recipients 4; changed 2; notifications 2; now: stopped 1, suspended 1, "
            "valid 1, warning 1") in result.output
    got = _recipients(platform)
    assert [got[h.person_id].status for h in (valid, warn, late, dead)] == [
        "valid", "warning", "suspended", "stopped"]
    with platform.db.session() as session:
        notes = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(n.event, n.sign_no, n.channel_no) for n in notes] == [
        ("certification_warning", cards[warn.person_id], CHANNEL),
        ("certification_suspended", cards[late.person_id], CHANNEL)]
    assert notes[1].payload["certification_status"] == "suspended"
    assert warn.id_number not in json.dumps(notes[0].payload)
    again = run("certification", "refresh-status", "--no-progress")
    assert "changed 0; notifications 0" in again.output


def test_record_death_stops_the_entitlement(run: Any, platform: Platform, app: Flask,
                                           tmp_path: Path, faces_dir: Path) -> None:
    platform.faces = CachingFaceEngine(platform.faces)
    holder = _holder(platform, 5, photo=faces_dir / ENROL)
    identity = make_channel(platform, CHANNEL)
    sign_no = _ecard(platform, holder)
    _import(run, tmp_path, [(holder, local_today() + timedelta(days=200))])
    result = run("certification", "record-death", holder.id_number, "--date", "2026-11-30")
    assert result.exit_code == 0, result.output
    masked = holder.id_number[:4] + "*" * 10 + holder.id_number[-4:]
    assert f"recipient {masked}: stopped (died 2026-11-30)" in result.output
    assert holder.id_number not in result.output
    r = _recipients(platform)[holder.person_id]
    assert (r.status, r.died_on) == ("stopped", date(2026, 11, 30))
    with platform.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "certification.recipient_stopped")).one()
        assert (entry.actor_id, entry.subject) == ("alice", f"person:{holder.person_id}")
    # no certification is asked of a stopped entitlement
    client = signed(app.test_client(), identity)
    res = client.post("/api/v1/certification/sessions", json={"sign_no": sign_no})
    assert (res.status_code, res.get_json()["code"]) == (409, "RECIPIENT_STOPPED")
    unknown = run("certification", "record-death", make_id_number("110101", "19500101", "099"))
    assert unknown.exit_code == 1 and "RECIPIENT_NOT_FOUND" in unknown.output
    bad = run("certification", "record-death", "12345")
    assert bad.exit_code == 1 and "ID_NUMBER_INVALID" in bad.output


def _attempt(platform: Platform, person_id: int, band: str, mode: str,
             reason: str | None) -> None:
    from tests.support.factories import passed_session
    sid = passed_session(platform, person_id, CHANNEL, purpose="entitlement", mode=mode,
                         passed=reason is None)
    with platform.db.transaction() as session:
        attempt = session.scalars(select(CertificationAttempt).where(
            CertificationAttempt.session_id == sid)).one()
        attempt.age_band, attempt.reason = band, reason


def test_stats_per_age_band_mode_and_reason(run: Any, platform: Platform) -> None:
    make_channel(platform, CHANNEL)
    pid = _holder(platform, 1).person_id
    for band, mode, reason in [
            ("<60", "standard", None), ("<60", "standard", "FACE_MISMATCH"),
            ("70-79", "standard", "ACTION_NOT_SEEN"), ("70-79", "standard", "ACTION_NOT_SEEN"),
            ("70-79", "standard", None), ("70-79", "elder", None),
            ("80+", "elder", "FACE_TOO_DARK"), ("60-69", "elder", None)]:
        _attempt(platform, pid, band, mode, reason)
    result = run("certification", "stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["rows"] == [
        {"age_band": "<60", "mode": "standard", "attempts": 2, "failures": 1,
         "failure_rate": 0.5},
        {"age_band": "60-69", "mode": "elder", "attempts": 1, "failures": 0,
         "failure_rate": 0.0},
        {"age_band": "70-79", "mode": "elder", "attempts": 1, "failures": 0,
         "failure_rate": 0.0},
        {"age_band": "70-79", "mode": "standard", "attempts": 3, "failures": 2,
         "failure_rate": 0.6667},
        {"age_band": "80+", "mode": "elder", "attempts": 1, "failures": 1,
         "failure_rate": 1.0}]
    assert stats["reasons"] == [
        {"age_band": "<60", "mode": "standard", "reason": "FACE_MISMATCH", "failures": 1},
        {"age_band": "70-79", "mode": "standard", "reason": "ACTION_NOT_SEEN", "failures": 2},
        {"age_band": "80+", "mode": "elder", "reason": "FACE_TOO_DARK", "failures": 1}]
    table = run("certification", "stats").output
    lines = table.splitlines()
    assert lines[0].split() == ["age", "band", "mode", "attempts", "failures", "rate"]
    assert lines[4].split() == ["70-79", "standard", "3", "2", "66.7%"]
    assert any(line.split() == ["70-79", "standard", "ACTION_NOT_SEEN", "2"] for line in lines)


def test_stats_with_no_attempts(run: Any) -> None:
    assert json.loads(run("certification", "stats", "--json").output) == {
        "rows": [], "reasons": []}


@pytest.mark.parametrize(("birth", "today", "band"), [
    (date(1966, 12, 5), date(2026, 12, 4), "<60"), (date(1966, 12, 4), date(2026, 12, 4),
                                                    "60-69"),
    (date(1956, 12, 5), date(2026, 12, 4), "60-69"), (date(1956, 12, 4), date(2026, 12, 4),
                                                      "70-79"),
    (date(1946, 12, 4), date(2026, 12, 4), "80+"), (date(1930, 1, 1), date(2026, 12, 4),
                                                    "80+")])
def test_age_bands_turn_on_the_birthday(birth: date, today: date, band: str) -> None:
    assert age_band(birth, today) == band
