"""``ecard operator add`` prints a token once; the operator API refuses anything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.cli import main
from ecard.operators.models import Operator
from ecard.operators.services import token_hash
from ecard.platform import Platform
from tests.conftest import TEST_MASTER_KEY


def test_add_prints_the_token_once_and_keeps_its_hash(app: Flask, platform: Platform,
                                                      database_url: str,
                                                      tmp_path: Path) -> None:
    env = {"ECARD_DATABASE_URL": database_url, "ECARD_MASTER_KEY": TEST_MASTER_KEY,
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance"), "ECARD_OPERATOR": "root",
           "ECARD_REDIS_URL": ""}
    result = CliRunner().invoke(main, ["operator", "add", "alice"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("op_") and len(token) > 40
    with platform.db.session() as session:
        op = session.scalars(select(Operator)).one()
        assert op.token_hash == token_hash(token) and token not in op.token_hash
    again = CliRunner().invoke(main, ["operator", "add", "alice"], env=env)
    assert again.exit_code != 0 and "OPERATOR_EXISTS" in again.output

    client = app.test_client()
    assert client.get("/api/v1/operator/appeals").get_json()["code"] == "OPERATOR_AUTH_MISSING"
    bad = client.get("/api/v1/operator/appeals", headers={"Authorization": "Bearer op_x"})
    assert (bad.status_code, bad.get_json()["code"]) == (401, "OPERATOR_AUTH_INVALID")
    ok = client.get("/api/v1/operator/appeals", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.get_json() == {"appeals": []}
    CliRunner().invoke(main, ["operator", "disable", "alice"], env=env, catch_exceptions=False)
    gone = client.get("/api/v1/operator/appeals", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


def test_add_and_disable_are_audited_and_refuse_what_they_cannot_do(
        app: Flask, platform: Platform, database_url: str, tmp_path: Path) -> None:
    env = {"ECARD_DATABASE_URL": database_url, "ECARD_MASTER_KEY": TEST_MASTER_KEY,
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance"), "ECARD_OPERATOR": "root",
           "ECARD_REDIS_URL": ""}

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)
    added = run("operator", "add", "reviewer1")
    assert added.exit_code == 0 and "operator reviewer1 (id " in added.output
    assert "shown once" in added.output
    too_long = run("operator", "add", "x" * 65)
    assert too_long.exit_code == 1 and "VALIDATION_FAILED" in too_long.output
    blank = run("operator", "add", "   ")
    assert blank.exit_code == 1 and "VALIDATION_FAILED" in blank.output
    unknown = run("operator", "disable", "nobody")
    assert unknown.exit_code == 1 and "no operator nobody" in unknown.output
    disabled = run("operator", "disable", "reviewer1")
    assert disabled.exit_code == 0 and "operator reviewer1 disabled" in disabled.output
    with platform.db.session() as session:
        op = session.scalars(select(Operator)).one()
        assert op.status == "disabled"
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("operator.%")).order_by(AuditEntry.seq)).all()
        assert [(e.action, e.actor_type, e.actor_id, e.subject) for e in entries] == [
            ("operator.added", "operator", "root", f"operator:{op.id}"),
            ("operator.disabled", "operator", "root", f"operator:{op.id}")]
        assert all(added.output.splitlines()[-1] not in str(e.details) for e in entries)
