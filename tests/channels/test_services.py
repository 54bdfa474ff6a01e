"""Registering channels, keys and the lifecycle, against the services directly."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from ecard.audit.models import AuditEntry
from ecard.audit.services import verify_chain
from ecard.channels.interfaces import TRANSITIONS
from ecard.channels.keys import parse_public_key
from ecard.channels.models import CHANNEL_STATUSES, ChannelKey
from ecard.channels.services import (
    add_key,
    change_status,
    get_channel,
    list_channels,
    register_channel,
    retire_key,
)
from ecard.errors import EcardError
from ecard.platform import Platform
from tests.channels.conftest import OPERATOR

P256 = ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = P256) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _jwk(key: ec.EllipticCurvePrivateKey = P256, **extra: str) -> str:
    n = key.public_key().public_numbers()
    def b64(i: int) -> str:
        return base64.urlsafe_b64encode(i.to_bytes(32, "big")).rstrip(b"=").decode()
    return json.dumps({"kty": "EC", "crv": "P-256", "x": b64(n.x), "y": b64(n.y), **extra})


def _register(platform: Platform, channel_no: str = "1000000001", **kw: object) -> None:
    args: dict[str, object] = {"name": "银行", "type": "bank", "public_key": _pem()}
    args.update(kw)
    with platform.db.transaction() as session:
        register_channel(session, platform.clock, OPERATOR, channel_no=channel_no,
                         **args)  # type: ignore[arg-type]


def _code(exc: pytest.ExceptionInfo[EcardError]) -> str:
    return exc.value.code


def test_register_stores_applied_channel_with_pem_key_and_audit(platform: Platform) -> None:
    _register(platform, kid="bank-2026", callback_url="https://bank.example/notify")
    with platform.db.transaction() as session:
        channel = get_channel(session, "1000000001")
        assert (channel.status, channel.level, channel.type) == ("applied", 1, "bank")
        assert channel.callback_url == "https://bank.example/notify"
        key = session.scalars(select(ChannelKey)).one()
        assert (key.kid, key.status) == ("bank-2026", "active")
        assert key.public_pem == _pem()
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "channel.registered")).one()
        assert (entry.actor_type, entry.actor_id, entry.channel_no) == (
            "operator", "tester", "1000000001")
        assert verify_chain(session).ok


def test_jwk_key_is_stored_as_pem_with_thumbprint_kid(platform: Platform) -> None:
    _register(platform, public_key=_jwk())
    with platform.db.transaction() as session:
        key = session.scalars(select(ChannelKey)).one()
    assert key.public_pem == _pem()
    assert key.kid == parse_public_key(_pem()).thumbprint_kid
    assert len(key.kid) == 16


@pytest.mark.parametrize("bad", [
    "", "not a key", "{}", "[1, 2]",
    _pem(ec.generate_private_key(ec.SECP384R1())),
    _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    P256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                       serialization.NoEncryption()).decode(),
    _jwk(d="AAAA"),
    json.dumps({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
    json.dumps({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
    json.dumps({"kty": "EC", "crv": "P-256",
                "x": base64.urlsafe_b64encode(b"\x01" * 32).decode().rstrip("="),
                "y": base64.urlsafe_b64encode(b"\x02" * 32).decode().rstrip("=")}),
])
def test_key_formats_refused(platform: Platform, bad: str) -> None:
    with pytest.raises(EcardError) as exc:
        _register(platform, public_key=bad)
    assert _code(exc) == "CHANNEL_KEY_INVALID"
    with platform.db.transaction() as session:
        assert list_channels(session) == []  # nothing half-written


@pytest.mark.parametrize(("field", "value", "code"), [
    ("channel_no", "123456789", "CHANNEL_NUMBER_INVALID"),
    ("channel_no", "12345678901", "CHANNEL_NUMBER_INVALID"),
    ("channel_no", "10000000a1", "CHANNEL_NUMBER_INVALID"),
    ("channel_no", "١٠٠٠٠٠٠٠٠١", "CHANNEL_NUMBER_INVALID"),  # Arabic-Indic digits
    ("type", "casino", "CHANNEL_TYPE_INVALID"),
    ("name", "  ", "VALIDATION_FAILED"),
    ("callback_url", "ftp://bank.example/x", "CHANNEL_CALLBACK_URL_INVALID"),
    ("callback_url", "https:///nohost", "CHANNEL_CALLBACK_URL_INVALID"),
    ("kid", "has space", "VALIDATION_FAILED"),
])
def test_register_validation(platform: Platform, field: str, value: str, code: str) -> None:
    kw: dict[str, object] = {field: value}
    channel_no = str(kw.pop("channel_no", "1000000001"))
    with pytest.raises(EcardError) as exc:
        _register(platform, channel_no, **kw)
    assert _code(exc) == code


def test_duplicate_number(platform: Platform) -> None:
    _register(platform)
    with pytest.raises(EcardError) as exc:
        _register(platform)
    assert _code(exc) == "CHANNEL_EXISTS"


def test_parent_rules(platform: Platform) -> None:
    with pytest.raises(EcardError) as exc:
        _register(platform, "1000000002", parent_no="1000000001")
    assert _code(exc) == "CHANNEL_PARENT_INVALID"  # parent does not exist
    _register(platform, "1000000001", type="government")
    _register(platform, "1000000002", parent_no="1000000001")
    with platform.db.transaction() as session:
        assert get_channel(session, "1000000002").level == 2
    with pytest.raises(EcardError) as exc:
        _register(platform, "1000000003", parent_no="1000000002")
    assert _code(exc) == "CHANNEL_PARENT_INVALID"  # parent is itself second-level


def _move(platform: Platform, *statuses: str) -> None:
    with platform.db.transaction() as session:
        for status in statuses:
            change_status(session, platform.clock, OPERATOR, "1000000001", status)


def test_lifecycle_valid_paths(platform: Platform) -> None:
    _register(platform)
    _move(platform, "testing", "online", "suspended", "online", "suspended", "exited")
    with platform.db.transaction() as session:
        assert get_channel(session, "1000000001").status == "exited"
        actions = session.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "channel.status_changed").order_by(AuditEntry.seq)).all()
    assert [(a["from"], a["to"]) for a in actions] == [
        ("applied", "testing"), ("testing", "online"), ("online", "suspended"),
        ("suspended", "online"), ("online", "suspended"), ("suspended", "exited")]


@pytest.mark.parametrize(("before", "after"), [
    (b, a) for b in CHANNEL_STATUSES for a in CHANNEL_STATUSES if a not in TRANSITIONS[b]])
def test_lifecycle_invalid_transitions(platform: Platform, before: str, after: str) -> None:
    paths = {"applied": [], "testing": ["testing"], "online": ["testing", "online"],
             "suspended": ["testing", "online", "suspended"],
             "exited": ["testing", "exited"]}
    _register(platform)
    _move(platform, *paths[before])
    with pytest.raises(EcardError) as exc:
        _move(platform, after)
    assert _code(exc) == "CHANNEL_STATUS_TRANSITION_INVALID"
    assert exc.value.details["from"] == before
    with platform.db.transaction() as session:
        assert get_channel(session, "1000000001").status == before


def test_transition_table_is_as_specified() -> None:
    assert {(b, a) for b, nexts in TRANSITIONS.items() for a in nexts} == {
        ("applied", "testing"), ("applied", "exited"), ("testing", "online"),
        ("testing", "exited"), ("online", "suspended"), ("suspended", "online"),
        ("suspended", "exited")}


def test_unknown_status_and_channel(platform: Platform) -> None:
    _register(platform)
    with pytest.raises(EcardError) as exc:
        _move(platform, "paused")
    assert _code(exc) == "VALIDATION_FAILED"
    with pytest.raises(EcardError) as exc, platform.db.transaction() as session:
        change_status(session, platform.clock, OPERATOR, "1999999999", "testing")
    assert _code(exc) == "CHANNEL_NOT_FOUND"


def test_add_and_retire_keys(platform: Platform) -> None:
    _register(platform, kid="k1")
    second = ec.generate_private_key(ec.SECP256R1())
    with platform.db.transaction() as session:
        key = add_key(session, platform.clock, OPERATOR, "1000000001", _jwk(second))
        assert key.kid == parse_public_key(_pem(second)).thumbprint_kid
        with pytest.raises(EcardError) as exc:
            add_key(session, platform.clock, OPERATOR, "1000000001", _pem(second), "k1")
        assert _code(exc) == "CHANNEL_KEY_EXISTS"
    with platform.db.transaction() as session:
        retire_key(session, platform.clock, OPERATOR, "1000000001", "k1")
        retire_key(session, platform.clock, OPERATOR, "1000000001", "k1")  # idempotent
        statuses = {k.kid: k.status for k in session.scalars(select(ChannelKey))}
        assert statuses == {"k1": "retired", key.kid: "active"}
        retired = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "channel.key_retired")).all()
        assert len(retired) == 1
        with pytest.raises(EcardError) as exc:
            retire_key(session, platform.clock, OPERATOR, "1000000001", "nope")
        assert _code(exc) == "CHANNEL_KEY_NOT_FOUND"
        with pytest.raises(EcardError) as exc:
            add_key(session, platform.clock, OPERATOR, "1999999999", _pem())
        assert _code(exc) == "CHANNEL_NOT_FOUND"


def test_list_filters(platform: Platform) -> None:
    _register(platform, "1000000001", type="bank")
    _register(platform, "1000000002", type="medical")
    _move(platform, "testing")
    with platform.db.transaction() as session:
        assert [c.channel_no for c in list_channels(session)] == ["1000000001", "1000000002"]
        assert [c.channel_no for c in list_channels(session, type="medical")] == ["1000000002"]
        assert [c.channel_no for c in list_channels(session, status="testing")] == [
            "1000000001"]
