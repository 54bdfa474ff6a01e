"""The government-app entry without a browser (SQLite, and PostgreSQL when
configured): a holder signed on through ``POST /api/v1/h5/sso`` sees their pension
certification on ``/h5/`` and starts it with ``POST /h5/api/sso/certification``, which
needs the session cookie AND the page's ``X-Ecard-CSRF``; the answer's link opens the
certify page. tests/web/test_sso_browser.py drives the same in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from channel_adapters.gov_app import issue_ticket
from ecard.certification.models import CertificationSession
from ecard.channels.models import Channel
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.cards.helpers import make_channel
from tests.certification.helpers import CachingLandmarkEngine, katie_holder
from tests.support.channel_client import ChannelIdentity

GOV = "5000000005"
START = "/h5/api/sso/certification"


@pytest.fixture
def gov(platform: Platform) -> ChannelIdentity:
    return make_channel(platform, GOV, name="示例政务App", type="government")


@pytest.fixture
def katie(platform: Platform, faces_dir: Path, gov: ChannelIdentity) -> str:
    platform.faces = CachingLandmarkEngine()
    _, sign_no = katie_holder(platform, faces_dir, gov)
    return sign_no


def sign_on(app: Flask, platform: Platform, gov: ChannelIdentity, sign_no: str,
            clock: FrozenClock) -> FlaskClient:
    """A browser of the holder after the app's ticket was redeemed (cookie set)."""
    from ecard.cards.models import ECard
    with platform.db.session() as session:
        openid = session.scalars(select(ECard.openid).where(ECard.sign_no == sign_no)).one()
    browser = app.test_client()
    ticket = issue_ticket(gov.private_key, channel_no=GOV, kid=gov.kid, openid=openid,
                          now_s=int(clock.now().timestamp()))
    res = browser.post("/api/v1/h5/sso", json={"ticket": ticket})
    assert res.status_code == 201, res.get_json()
    return browser


def csrf_of(browser: FlaskClient, path: str = "/h5/") -> str | None:
    page = browser.get(path).get_data(as_text=True)
    found = re.search(r'data-sso-csrf="([0-9a-f]+)"', page)
    return found.group(1) if found else None


def sessions(platform: Platform) -> int:
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(CertificationSession)) or 0)


def test_home_offers_the_holders_certification(app: Flask, platform: Platform,
                                               gov: ChannelIdentity, katie: str,
                                               clock: FrozenClock) -> None:
    plain = app.test_client().get("/h5/").get_data(as_text=True)
    assert "data-sso-csrf" not in plain and 'data-role="sso-start"' not in plain
    browser = sign_on(app, platform, gov, katie, clock)
    page = browser.get("/h5/").get_data(as_text=True)
    assert "认证人：*蒂" in page and 'data-role="sso-start"' in page
    assert "凯蒂" not in page and katie not in page
    assert csrf_of(browser) and csrf_of(browser, "/h5/certify/cs_x") == csrf_of(browser)


@pytest.mark.parametrize(("body", "cookie", "mode"), [
    ({"mode": "standard"}, None, "standard"),
    ({"mode": "elder"}, None, "elder"),
    ({}, "1", "elder"),          # the settings switch's cookie decides when no mode is sent
    ({}, None, "standard"),
])
def test_start_opens_a_linked_session(app: Flask, platform: Platform, gov: ChannelIdentity,
                                      katie: str, clock: FrozenClock, body: dict[str, Any],
                                      cookie: str | None, mode: str) -> None:
    browser = sign_on(app, platform, gov, katie, clock)
    csrf = csrf_of(browser)
    if cookie:
        browser.set_cookie("ecard_elder", cookie, path="/h5")
    res = browser.post(START, json=body, headers={"X-Ecard-CSRF": csrf,
                                                  "Origin": "http://localhost"})
    assert res.status_code == 201, res.get_json()
    out = res.get_json()
    assert out["mode"] == mode and out["path"].startswith(f"/h5/certify/{out['session_id']}#t=")
    page_path, token = out["path"].split("#t=")
    assert app.test_client().get(page_path).status_code == 200
    view = app.test_client().get(f"/h5/api/sessions/{out['session_id']}",
                                 headers={"Authorization": f"Bearer {token}"})
    assert view.status_code == 200 and view.get_json()["mode"] == mode
    assert view.get_json()["purpose"] == "entitlement" and view.get_json()["return_url"] is None
    with platform.db.session() as session:
        row = session.get_one(CertificationSession, out["session_id"])
        assert (row.channel_no, row.sign_no) == (GOV, katie)


def test_start_needs_the_cookie_and_the_pages_token(app: Flask, platform: Platform,
                                                    gov: ChannelIdentity, katie: str,
                                                    clock: FrozenClock) -> None:
    browser = sign_on(app, platform, gov, katie, clock)
    csrf = csrf_of(browser)
    assert csrf is not None
    before = sessions(platform)
    refusals = {
        "no header": browser.post(START, json={"mode": "standard"}),
        "wrong header": browser.post(START, json={}, headers={"X-Ecard-CSRF": "0" * 64}),
        "other origin": browser.post(START, json={}, headers={
            "X-Ecard-CSRF": csrf, "Origin": "https://evil.example"}),
    }
    for why, res in refusals.items():
        assert res.status_code == 403, why
        assert res.get_json()["code"] == "H5_CSRF_INVALID", why
    # the header without the cookie (another browser that read a page) is no session
    stranger = app.test_client().post(START, json={}, headers={"X-Ecard-CSRF": csrf})
    assert stranger.status_code == 401 and stranger.get_json()["code"] == "H5_SESSION_INVALID"
    bad_mode = browser.post(START, json={"mode": "fast"}, headers={"X-Ecard-CSRF": csrf})
    assert bad_mode.status_code == 422 and bad_mode.get_json()["code"] == "VALIDATION_FAILED"
    assert sessions(platform) == before  # nothing was started


def test_a_suspended_channel_ends_the_entry(app: Flask, platform: Platform,
                                           gov: ChannelIdentity, katie: str,
                                           clock: FrozenClock) -> None:
    browser = sign_on(app, platform, gov, katie, clock)
    csrf = csrf_of(browser)
    with platform.db.transaction() as session:
        session.execute(update(Channel).where(Channel.channel_no == GOV)
                        .values(status="suspended"))
    assert 'data-role="sso-start"' not in browser.get("/h5/").get_data(as_text=True)
    res = browser.post(START, json={}, headers={"X-Ecard-CSRF": csrf})
    assert res.status_code == 401 and res.get_json()["code"] == "H5_SESSION_INVALID"
    clock.advance(seconds=901)  # and the session itself ends after 15 minutes
    assert csrf_of(browser) is None
