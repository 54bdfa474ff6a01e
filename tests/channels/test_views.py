"""The channel endpoints over HTTP: every refusal answers its own code and status."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask

from ecard.audit.services import Actor
from ecard.channels.services import change_status, retire_key
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.channels.conftest import MakeChannel
from tests.support.channel_client import ChannelIdentity, SignedClient

Signed = Callable[[ChannelIdentity], SignedClient]


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert body["message_en"] and body["message_zh"]
    return body


def test_me_answers_the_calling_channel(make_channel: MakeChannel, signed: Signed) -> None:
    identity = make_channel("1000000001", type="bank", name="工商银行")
    response = signed(identity).get("/api/v1/channel")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"channel_no": "1000000001", "name": "工商银行",
                                   "type": "bank", "level": 1, "parent_no": None,
                                   "status": "online"}


def test_second_level_channel_reports_level_2(make_channel: MakeChannel,
                                               signed: Signed) -> None:
    make_channel("1000000001", type="government")
    child = make_channel("1000000002", parent_no="1000000001", kid="c1")
    body = signed(child).get("/api/v1/channel").get_json()
    assert body["level"] == 2 and body["parent_no"] == "1000000001"


def test_ping_with_body_and_query(make_channel: MakeChannel, signed: Signed) -> None:
    identity = make_channel()
    client = signed(identity)
    assert client.post("/api/v1/ping", json={"hello": "世界"}).get_json() == {"ok": True}
    assert client.post("/api/v1/ping?trace=1&x=y", json={}).status_code == 200


def test_testing_channel_may_call(make_channel: MakeChannel, signed: Signed) -> None:
    identity = make_channel(status="testing")
    assert signed(identity).post("/api/v1/ping").status_code == 200


def test_missing_header(client: Any) -> None:
    _refused(client.post("/api/v1/ping"), 401, "AUTH_MISSING")
    _refused(client.get("/api/v1/channel", headers={"Authorization": ""}), 401, "AUTH_MISSING")


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c",
    "Bearer " + "x" * 9000,
])
def test_malformed_header(client: Any, header: str) -> None:
    body = _refused(client.post("/api/v1/ping", headers={"Authorization": header}), 401,
                    "AUTH_MALFORMED")
    assert "details" not in body  # nothing verified yet: nothing to tell


def _raw_token(identity: ChannelIdentity, claims: dict[str, Any],
               headers: dict[str, Any]) -> str:
    return jwt.encode(claims, identity.private_key, algorithm="ES256", headers=headers)


def test_malformed_jws_header_fields(make_channel: MakeChannel, client: Any,
                                     clock: FrozenClock) -> None:
    identity = make_channel()
    good = jwt.decode(identity.token("POST", "/api/v1/ping", b"{}"),
                      options={"verify_signature": False})
    for headers in ({"kid": "k1", "typ": "JWT"}, {"typ": "ecard-channel+jwt"},
                    {"kid": "k1", "typ": "ecard-channel+jwt", "crit": ["x"]}):
        token = _raw_token(identity, good, headers)
        _refused(client.post("/api/v1/ping", data=b"{}",
                             headers={"Authorization": f"Bearer {token}"}), 401,
                 "AUTH_MALFORMED")
    hs = jwt.encode(good, "a-shared-secret-that-is-32-bytes!", algorithm="HS256",
                    headers={"kid": "k1", "typ": "ecard-channel+jwt"})
    _refused(client.post("/api/v1/ping", data=b"{}", headers={"Authorization": f"Bearer {hs}"}),
             401, "AUTH_MALFORMED")
    bad_iss = identity.token("POST", "/api/v1/ping", b"{}", iss="12345")
    _refused(client.post("/api/v1/ping", data=b"{}",
                         headers={"Authorization": f"Bearer {bad_iss}"}), 401, "AUTH_MALFORMED")


def test_unknown_channel(client: Any, signed: Signed) -> None:
    stranger = ChannelIdentity.generate("9999999999")
    _refused(signed(stranger).post("/api/v1/ping"), 401, "AUTH_UNKNOWN_CHANNEL")


def test_unknown_and_retired_key(make_channel: MakeChannel, signed: Signed, app: Flask,
                                 platform: Platform) -> None:
    identity = make_channel()
    other_kid = ChannelIdentity(identity.channel_no, "k9", identity.private_key)
    _refused(signed(other_kid).post("/api/v1/ping"), 401, "AUTH_UNKNOWN_KEY")
    assert signed(identity).post("/api/v1/ping").status_code == 200
    with platform.db.transaction() as session:
        retire_key(session, platform.clock, Actor("operator", "t"), identity.channel_no, "k1")
    _forget_caches(app)  # what the key cache's 30 s do
    _refused(signed(identity).post("/api/v1/ping"), 401, "AUTH_UNKNOWN_KEY")


def _forget_caches(app: Flask) -> None:
    from ecard.channels.flask_auth import EXTENSION
    app.extensions[EXTENSION].directory.forget()


def test_bad_signature(make_channel: MakeChannel, signed: Signed) -> None:
    identity = make_channel()
    impostor = ChannelIdentity.generate(identity.channel_no, identity.kid)
    _refused(signed(impostor).post("/api/v1/ping"), 401, "AUTH_BAD_SIGNATURE")


def test_tampered_claims_break_the_signature(make_channel: MakeChannel, client: Any) -> None:
    identity = make_channel()
    token = identity.token("POST", "/api/v1/ping", b"{}")
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["htu"] = "/api/v1/channel"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _refused(client.post("/api/v1/ping", data=b"{}",
                         headers={"Authorization": f"Bearer {head}.{forged}.{sig}"}), 401,
             "AUTH_BAD_SIGNATURE")


def test_wrong_audience(make_channel: MakeChannel, signed: Signed) -> None:
    body = _refused(signed(make_channel()).post("/api/v1/ping", aud="another-api"), 401,
                    "AUTH_BINDING_MISMATCH")
    assert body["details"]["claim"] == "aud"


def test_expired(make_channel: MakeChannel, signed: Signed, clock: FrozenClock) -> None:
    client = signed(make_channel())
    client.now = lambda: clock.now().timestamp() - 120
    _refused(client.post("/api/v1/ping", lifetime=60), 401, "AUTH_EXPIRED")


def test_not_yet_valid(make_channel: MakeChannel, signed: Signed, clock: FrozenClock) -> None:
    client = signed(make_channel())
    client.now = lambda: clock.now().timestamp() + 31
    _refused(client.post("/api/v1/ping"), 401, "AUTH_NOT_YET_VALID")
    client.now = lambda: clock.now().timestamp() + 29  # inside the allowed skew
    assert client.post("/api/v1/ping").status_code == 200


def test_lifetime_too_long(make_channel: MakeChannel, signed: Signed) -> None:
    client = signed(make_channel())
    _refused(client.post("/api/v1/ping", lifetime=301), 401, "AUTH_LIFETIME_TOO_LONG")
    assert client.post("/api/v1/ping", lifetime=300).status_code == 200


@pytest.mark.parametrize("override", [
    {"htm": "GET"}, {"htu": "/api/v1/channel"}, {"htu": "/api/v1/ping?x=1"},
    {"bh": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
])
def test_binding_mismatch(make_channel: MakeChannel, signed: Signed,
                          override: dict[str, str]) -> None:
    body = _refused(signed(make_channel()).post("/api/v1/ping", json={"a": 1}, **override),
                    401, "AUTH_BINDING_MISMATCH")
    assert body["details"]["claim"] == next(iter(override))


def test_body_changed_after_signing(make_channel: MakeChannel, client: Any) -> None:
    identity = make_channel()
    token = identity.token("POST", "/api/v1/ping", b'{"amount": 1}')
    _refused(client.post("/api/v1/ping", data=b'{"amount": 100}',
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"}),
             401, "AUTH_BINDING_MISMATCH")


def test_query_is_bound(make_channel: MakeChannel, client: Any) -> None:
    identity = make_channel()
    token = identity.token("GET", "/api/v1/channel?a=1")
    _refused(client.get("/api/v1/channel?a=2", headers={"Authorization": f"Bearer {token}"}),
             401, "AUTH_BINDING_MISMATCH")
    token = identity.token("GET", "/api/v1/channel?a=1")
    assert client.get("/api/v1/channel?a=1",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_replayed(make_channel: MakeChannel, client: Any) -> None:
    identity = make_channel()
    token = identity.token("POST", "/api/v1/ping", b"{}")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/ping", data=b"{}", headers=headers).status_code == 200
    _refused(client.post("/api/v1/ping", data=b"{}", headers=headers), 401, "AUTH_REPLAYED")


def test_bad_binding_does_not_burn_the_jti(make_channel: MakeChannel, client: Any) -> None:
    identity = make_channel()
    wrong = identity.token("POST", "/api/v1/ping", b"{}", jti="j" * 20, htu="/elsewhere")
    _refused(client.post("/api/v1/ping", data=b"{}", headers={"Authorization": f"Bearer {wrong}"}),
             401, "AUTH_BINDING_MISMATCH")
    right = identity.token("POST", "/api/v1/ping", b"{}", jti="j" * 20)
    assert client.post("/api/v1/ping", data=b"{}",
                       headers={"Authorization": f"Bearer {right}"}).status_code == 200


@pytest.mark.parametrize(("status", "code"), [
    ("suspended", "CHANNEL_SUSPENDED"), ("applied", "CHANNEL_NOT_ONLINE"),
    ("exited", "CHANNEL_NOT_ONLINE"),
])
def test_channel_status_refusals(make_channel: MakeChannel, signed: Signed, status: str,
                                 code: str) -> None:
    body = _refused(signed(make_channel(status=status)).post("/api/v1/ping"), 403, code)
    assert body["details"] == {"status": status}


def test_suspension_applies_to_a_running_app(make_channel: MakeChannel, signed: Signed,
                                             app: Flask, platform: Platform) -> None:
    identity = make_channel()
    client = signed(identity)
    assert client.post("/api/v1/ping").status_code == 200
    with platform.db.transaction() as session:
        change_status(session, platform.clock, Actor("operator", "t"), identity.channel_no,
                      "suspended")
    _forget_caches(app)  # what the status cache's 5 s do
    _refused(client.post("/api/v1/ping"), 403, "CHANNEL_SUSPENDED")


def test_openapi_marks_channel_endpoints(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["paths"]["/api/v1/ping"]["post"]["security"] == [{"channelJWT": []}]
    assert spec["paths"]["/api/v1/channel"]["get"]["security"] == [{"channelJWT": []}]
    assert "security" not in spec["paths"]["/api/v1/health"]["get"]
