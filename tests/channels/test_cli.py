"""``ecard channel ...`` through click's runner, against a migrated database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.cli import main
from ecard.db import Database
from tests.conftest import TEST_MASTER_KEY
from tests.support.channel_client import ChannelIdentity

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Run:
    env = {"ECARD_DATABASE_URL": database_url, "ECARD_MASTER_KEY": TEST_MASTER_KEY,
           "ECARD_INSTANCE_DIR": str(tmp_path / "instance"), "ECARD_OPERATOR": "alice",
           "ECARD_REDIS_URL": ""}
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["channel", *args], env=env, catch_exceptions=False)
    return invoke


@pytest.fixture
def key_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(kind: str = "pem") -> Path:
        identity = ChannelIdentity.generate("0000000000")
        path = tmp_path / f"key-{kind}-{id(identity)}"
        if kind == "pem":
            path.write_text(identity.public_pem)
        else:
            from ecard.tokens.services import public_jwk
            jwk = public_jwk(identity.private_key.public_key(), "")
            path.write_text(json.dumps({k: jwk[k] for k in ("kty", "crv", "x", "y")}))
        return path
    return write


def test_add_show_list(run: Run, key_file: Callable[[str], Path], database_url: str) -> None:
    result = run("add", "--number", "1000000001", "--name", "国家社会保险公共服务平台",
                 "--type", "ministry", "--public-key", str(key_file("pem")), "--kid", "m1",
                 "--callback-url", "https://ministry.example/cb")
    assert result.exit_code == 0, result.output
    assert "status    applied" in result.output and "key       m1  active" in result.output
    result = run("add", "--number", "1000000002", "--name", "某市医保", "--type", "medical",
                 "--parent", "1000000001", "--public-key", str(key_file("jwk")))
    assert result.exit_code == 0, result.output
    assert "level     2 (under 1000000001)" in result.output
    shown = run("show", "1000000002")
    assert shown.exit_code == 0 and "某市医保" in shown.output
    listed = run("list").output.splitlines()
    assert [line.split()[0] for line in listed] == ["1000000001", "1000000002"]
    assert run("list", "--type", "medical").output.startswith("1000000002")
    database = Database(database_url)
    with database.sessionmaker() as session:
        actors = set(session.scalars(select(AuditEntry.actor_id).where(
            AuditEntry.action == "channel.registered")))
    database.dispose()
    assert actors == {"alice"}


def test_lifecycle_and_errors(run: Run, key_file: Callable[[str], Path]) -> None:
    assert run("add", "--number", "1000000001", "--name", "银行", "--type", "bank",
               "--public-key", str(key_file("pem"))).exit_code == 0
    for status in ("testing", "online", "suspended"):
        result = run("set-status", "1000000001", status)
        assert result.exit_code == 0, result.output
    assert "online -> suspended" in result.output
    bad = run("set-status", "1000000001", "applied")
    assert bad.exit_code == 1
    assert "CHANNEL_STATUS_TRANSITION_INVALID" in bad.output
    assert "The channel's status does not allow that change." in bad.output
    missing = run("show", "1999999999")
    assert missing.exit_code == 1 and "No channel with this number exists." in missing.output
    dup = run("add", "--number", "1000000001", "--name", "x", "--type", "bank",
              "--public-key", str(key_file("pem")))
    assert dup.exit_code == 1 and "CHANNEL_EXISTS" in dup.output
    short = run("add", "--number", "123", "--name", "x", "--type", "bank",
                "--public-key", str(key_file("pem")))
    assert short.exit_code == 1 and "The channel number must be 10 digits." in short.output
    wrong_type = run("add", "--number", "1000000003", "--name", "x", "--type", "casino",
                     "--public-key", str(key_file("pem")))
    assert wrong_type.exit_code == 2  # click refuses the choice with its own usage message


def test_keys(run: Run, key_file: Callable[[str], Path], tmp_path: Path) -> None:
    assert run("add", "--number", "1000000001", "--name", "银行", "--type", "bank",
               "--public-key", str(key_file("pem")), "--kid", "k1").exit_code == 0
    added = run("add-key", "1000000001", str(key_file("jwk")), "--kid", "k2")
    assert added.exit_code == 0 and "kid=k2" in added.output
    again = run("add-key", "1000000001", str(key_file("pem")), "--kid", "k2")
    assert again.exit_code == 1 and "CHANNEL_KEY_EXISTS" in again.output
    retired = run("retire-key", "1000000001", "k1")
    assert retired.exit_code == 0 and "retired" in retired.output
    shown = run("show", "1000000001").output
    assert "k1  retired" in shown and "k2  active" in shown
    unknown = run("retire-key", "1000000001", "nope")
    assert unknown.exit_code == 1 and "CHANNEL_KEY_NOT_FOUND" in unknown.output
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    bad = run("add-key", "1000000001", str(garbage))
    assert bad.exit_code == 1 and "CHANNEL_KEY_INVALID" in bad.output


def test_set_callback(run: Run, key_file: Callable[[str], Path], database_url: str) -> None:
    assert run("add", "--number", "1000000001", "--name", "银行", "--type", "bank",
               "--public-key", str(key_file("pem"))).exit_code == 0
    done = run("set-callback", "1000000001", "https://bank.example/ecard/cb")
    assert done.exit_code == 0, done.output
    assert "callback  https://bank.example/ecard/cb" in run("show", "1000000001").output
    for bad in ("ftp://bank.example/cb", "https://", "bank.example/cb",
                "https://x.example/" + "a" * 600):
        refused = run("set-callback", "1000000001", bad)
        assert refused.exit_code == 1 and "CHANNEL_CALLBACK_URL_INVALID" in refused.output
    assert "https://bank.example/ecard/cb" in run("show", "1000000001").output
    assert run("set-callback", "1000000001").exit_code == 2  # a URL or --clear
    assert run("set-callback", "1000000001", "https://a.example", "--clear").exit_code == 2
    missing = run("set-callback", "1999999999", "https://a.example/cb")
    assert missing.exit_code == 1 and "CHANNEL_NOT_FOUND" in missing.output
    cleared = run("set-callback", "1000000001", "--clear")
    assert cleared.exit_code == 0 and "callback -" in cleared.output
    assert "notifications wait" in cleared.output
    assert "callback  -" in run("show", "1000000001").output
    database = Database(database_url)
    with database.sessionmaker() as session:
        changes = [(e.actor_id, e.details["from"], e.details["to"]) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "channel.callback_url_changed")
            .order_by(AuditEntry.seq))]
    database.dispose()
    assert changes == [("alice", None, "https://bank.example/ecard/cb"),
                       ("alice", "https://bank.example/ecard/cb", None)]
