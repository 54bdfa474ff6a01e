"""``ecard operator add`` prints a token once; the operator API refuses anything else."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

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
