"""Government-app single sign-on: a one-time ticket signed with the channel's key
becomes a short H5 session; every misuse answers the same 401."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from channel_adapters.gov_app import COOKIE, SESSION_TTL_S, issue_ticket
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.cards.helpers import make_channel
from tests.support.channel_client import ChannelIdentity
from tests.support.payments import Card, issue_level1

GOV = "5000000005"
SSO = "/api/v1/h5/sso"


@pytest.fixture
def gov(platform: Platform) -> ChannelIdentity:
    return make_channel(platform, GOV, name="示例政务App", type="government")


@pytest.fixture
def card(platform: Platform, gov: ChannelIdentity) -> Card:
    return issue_level1(platform, GOV)


def openid_of(platform: Platform, card: Card) -> str:
    from ecard.cards.models import ECard
    with platform.db.session() as session:
        return session.get_one(ECard, card.ecard_id).openid


def ticket(identity: ChannelIdentity, openid: str, clock: FrozenClock, **kw: Any) -> str:
    return issue_ticket(identity.private_key, channel_no=identity.channel_no, kid=identity.kid,
                        openid=openid, now_s=int(clock.now().timestamp()), **kw)


def test_a_ticket_opens_a_session_once(app: Flask, platform: Platform, gov: ChannelIdentity,
                                       card: Card, clock: FrozenClock) -> None:
    client = app.test_client()
    openid = openid_of(platform, card)
    t = ticket(gov, openid, clock)
    res = client.post(SSO, json={"ticket": t})
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert (body["channel_no"], body["openid"], body["sign_no"]) == (GOV, openid, card.sign_no)
    assert body["session_token"].startswith("H5S1.")
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=H5S1.") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and f"Max-Age={SESSION_TTL_S}" in cookie
    assert res.headers["Cache-Control"] == "no-store"

    again = client.post(SSO, json={"ticket": t})
    assert again.status_code == 401 and again.get_json()["code"] == "H5_TICKET_INVALID"

    fresh = app.test_client()
    res = fresh.get("/api/v1/h5/session",
                    headers={"Authorization": f"Bearer {body['session_token']}"})
    assert res.status_code == 200 and res.get_json()["sign_no"] == card.sign_no
    assert client.get("/api/v1/h5/session").status_code == 200  # the cookie
    clock.advance(seconds=SESSION_TTL_S)
    res = fresh.get("/api/v1/h5/session",
                    headers={"Authorization": f"Bearer {body['session_token']}"})
    assert res.status_code == 401 and res.get_json()["code"] == "H5_SESSION_INVALID"


def test_sessions_cannot_be_forged(app: Flask, platform: Platform, gov: ChannelIdentity,
                                   card: Card, clock: FrozenClock) -> None:
    token = app.test_client().post(SSO, json={"ticket": ticket(
        gov, openid_of(platform, card), clock)}).get_json()["session_token"]
    prefix, payload, mac = token.split(".")
    import base64
    import json
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["s"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    for bad in (f"{prefix}.{forged}.{mac}", f"{prefix}.{payload}.{'0' * len(mac)}",
                "H5S1.x", "nonsense", f"H5S2.{payload}.{mac}"):
        res = app.test_client().get("/api/v1/h5/session",
                                    headers={"Authorization": f"Bearer {bad}"})
        assert res.status_code == 401 and res.get_json()["code"] == "H5_SESSION_INVALID"
    assert app.test_client().get("/api/v1/h5/session").status_code == 401


def test_every_bad_ticket_is_the_same_401(app: Flask, platform: Platform,
                                          gov: ChannelIdentity, card: Card,
                                          clock: FrozenClock) -> None:
    openid = openid_of(platform, card)
    now = int(clock.now().timestamp())
    stranger = ec.generate_private_key(ec.SECP256R1())
    bank = make_channel(platform, "1000000001", type="bank")
    bank_card = issue_level1(platform, "1000000001", seq=2)
    suspended = make_channel(platform, "5000000006", type="government", status="suspended")
    cases = {
        "expired": issue_ticket(gov.private_key, channel_no=GOV, kid=gov.kid, openid=openid,
                                now_s=now - 200, ttl_s=60),
        "too long": ticket(gov, openid, clock, ttl_s=3600),
        "future": issue_ticket(gov.private_key, channel_no=GOV, kid=gov.kid, openid=openid,
                               now_s=now + 120),
        "other key": issue_ticket(stranger, channel_no=GOV, kid=gov.kid, openid=openid,
                                  now_s=now),
        "unknown kid": issue_ticket(gov.private_key, channel_no=GOV, kid="k9", openid=openid,
                                    now_s=now),
        "unknown openid": ticket(gov, "NOSUCHOPENID", clock),
        "another channel's holder": ticket(gov, openid_of(platform, bank_card), clock),
        "a bank is no government app": ticket(bank, openid_of(platform, bank_card), clock),
        "suspended channel": ticket(suspended, openid, clock),
        "garbage": "not.a.ticket",
        "empty jti": ticket(gov, openid, clock, jti=""),
    }
    for why, t in cases.items():
        res = app.test_client().post(SSO, json={"ticket": t})
        assert res.status_code == 401, why
        assert res.get_json()["code"] == "H5_TICKET_INVALID", why
    res = app.test_client().post(SSO, json={})
    assert res.status_code == 422


def test_a_ticket_redeemed_by_racing_requests_opens_one_session(
        app: Flask, platform: Platform, gov: ChannelIdentity, card: Card,
        clock: FrozenClock) -> None:
    t = ticket(gov, openid_of(platform, card), clock)
    statuses: list[int] = []
    lock = threading.Lock()

    def redeem() -> None:
        status = app.test_client().post(SSO, json={"ticket": t}).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=redeem) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(statuses) == [201] + [401] * 5
