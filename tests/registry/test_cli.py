"""``ecard registry`` through click's test runner, against the test database."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from ecard.cards.models import ECard
from ecard.cli import main
from ecard.notifications.models import Notification
from ecard.platform import Platform
from ecard.registry.generator import SyntheticRegistry
from ecard.registry.idnumber import parse_id_number
from tests.registry.conftest import HEADER, add_channel, add_ecard, row, write_csv
from tests.support.factories import make_id_number

ID1 = make_id_number("110101", "19550307", "123")
ID2 = make_id_number("440305", "19620511", "224")


@pytest.fixture
def run(platform: Platform, test_config: dict[str, Any]) -> Any:
    env = {"ECARD_DATABASE_URL": test_config["DATABASE_URL"],
           "ECARD_MASTER_KEY": test_config["MASTER_KEY"],
           "ECARD_INSTANCE_DIR": test_config["INSTANCE_DIR"], "ECARD_OPERATOR": "alice"}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return invoke


def test_import_prints_a_summary_and_masks_ids(run: Any, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "p.csv", [
        row(ID1, aaz500="A00000001"),
        row(ID2, aaz500="A00000002", aab301="440305", reserved_phone="12345"),
    ])
    result = run("registry", "import", str(src), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "inserted            1" in result.output
    assert "rejected            1" in result.output
    assert "PHONE_INVALID" in result.output
    assert f"line 3: PHONE_INVALID ({ID2[:4]}{'*' * 10}{ID2[-4:]})" in result.output
    assert ID2 not in result.output and ID1 not in result.output
    assert (tmp_path / "p.csv.rejects.csv").exists()

    again = run("registry", "import", str(src), "--no-progress", "--rejects",
                str(tmp_path / "r.csv"))
    assert again.exit_code == 0
    assert "unchanged           1" in again.output
    assert "see " + str(tmp_path / "r.csv") in again.output


def test_import_bad_input_exits_2(run: Any, tmp_path: Path) -> None:
    missing = run("registry", "import", str(tmp_path / "nope.csv"), "--no-progress")
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    bad = write_csv(tmp_path / "bad.csv", [], header=["aac002", "aac003", "colour"])
    result = run("registry", "import", str(bad), "--no-progress")
    assert result.exit_code == 2
    assert "unknown column 'colour'" in result.output
    short = write_csv(tmp_path / "short.csv", [], header=["aac002", "aac003"])
    result = run("registry", "import", str(short), "--no-progress")
    assert result.exit_code == 2 and "lacks the column(s) aab301" in result.output
    no_photos = write_csv(tmp_path / "ok.csv", [row(ID1)])
    result = run("registry", "import", str(no_photos), "--photos", str(tmp_path / "x"))
    assert result.exit_code == 2 and "photos folder" in result.output


def test_set_status_and_show_card(run: Any, platform: Platform, tmp_path: Path) -> None:
    run("registry", "import", str(write_csv(tmp_path / "p.csv", [row(ID1, aaz500="A00000001")])),
        "--no-progress")
    add_channel(platform, "1000000001")
    add_ecard(platform, "A00000001", "1000000001", "S1")

    lost = run("registry", "set-status", "A00000001", "lost")
    assert lost.exit_code == 0, lost.output
    assert "active -> lost" in lost.output
    assert "S1 channel 1000000001: suspended -> suspended" in lost.output

    refused = run("registry", "set-status", "A00000001", "replaced")
    assert refused.exit_code == 1
    assert "REPLACEMENT_CARD_INVALID" in refused.output

    replaced = run("registry", "set-status", "A00000001", "replaced", "--replaced-by",
                   "B00000001")
    assert replaced.exit_code == 0, replaced.output
    assert "replaced by B0*****01 (new card created)" in replaced.output
    with platform.db.transaction() as s:
        assert s.scalars(select(ECard.status)).one() == "active"
        assert s.scalars(select(Notification.event).order_by(Notification.id)).all() == [
            "suspended", "rebound"]

    unknown = run("registry", "set-status", "Z99999999", "lost")
    assert unknown.exit_code == 1 and "CARD_NOT_FOUND" in unknown.output

    shown = run("registry", "show-card", "A00000001")
    assert shown.exit_code == 0
    assert "status: replaced" in shown.output and "B0*****01" in shown.output
    assert ID1 not in shown.output and "张三" not in shown.output
    assert f"id_number: {ID1[:4]}" in shown.output
    as_json = run("registry", "show-card", "B00000001", "--json")
    assert '"status": "active"' in as_json.output
    assert "6222020200112233445" not in as_json.output


def test_generate_writes_valid_unique_rows(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "gen.csv"
    result = run("registry", "generate", "3000", str(out), "--seed", "9")
    assert result.exit_code == 0 and "3,000" in result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == HEADER[:-1] and len(rows) == 3000
    ids = {r["aac002"] for r in rows}
    cards = {r["aaz500"] for r in rows} | {r["replaced_by"] for r in rows if r["replaced_by"]}
    assert len(ids) == 3000
    assert len(cards) == 3000 + sum(1 for r in rows if r["replaced_by"])
    for r in rows[:500]:
        cid = parse_id_number(r["aac002"], today=date(2026, 1, 1))
        assert cid.region == r["aab301"]
    assert {r["card_status"] for r in rows} == {"active", "lost", "cancelled", "replaced"}
    again = tmp_path / "again.csv"
    run("registry", "generate", "3000", str(again), "--seed", "9")
    assert again.read_bytes() == out.read_bytes()  # deterministic for a seed


def test_generator_is_a_stream() -> None:
    gen = SyntheticRegistry(1).rows(10**9)
    assert next(gen)[0] == "aac002"
    assert len(next(gen)) == len(HEADER) - 1  # a billion rows, produced lazily


def test_reasons_are_listed() -> None:
    result = CliRunner().invoke(main, ["registry", "reasons", "--markdown"])
    assert result.exit_code == 0
    assert "| `ID_CHECK_DIGIT` |" in result.output
    assert "| `FACE_MULTIPLE` |" in result.output
