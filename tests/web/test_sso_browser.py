"""The government-app entry in a real browser (Debian's Chromium, the real-frame
camera of tests/web/video.py): the app's ticket → ``/h5/sso`` → the H5 home's start
button → the certify page passes with katiehill's footage; then a failed standard
session's "elder mode" next step starts the elder session directly (the holder is
signed on), instead of sending them back to the app. One browser for both, about
22 s. The same entry without a browser, on both databases: test_sso_entry.py."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channel_adapters.gov_app import issue_ticket
from ecard.cards.models import ECard
from ecard.certification.models import CertificationSession
from ecard.certification.views import RNG_KEY
from ecard.platform import Platform
from tests.cards.helpers import make_channel
from tests.certification.helpers import KATIE
from tests.support.channel_client import ChannelIdentity
from tests.web.live import Live, live_server
from tests.web.test_browser import (
    FAKE_CAMERA,
    _browser,
    _camera_video,
    _certify,
    _open,
    _session,
)

pytestmark = pytest.mark.e2e

GOV = "5000000005"


@pytest.fixture
def gov_live(tmp_path: Path, sqlite_template: Path, faces_dir: Path) -> Iterator[Live]:
    """A live server with katiehill holding her e-card in a government app."""
    def gov_app(platform: Platform) -> ChannelIdentity:
        channel = make_channel(platform, GOV, name="示例政务App", type="government")
        platform.extras["test.gov"] = channel
        return channel

    with live_server(tmp_path, sqlite_template, faces_dir, gov_app) as served:
        yield served


def _ticket(live: Live) -> str:
    gov = live.platform.extras["test.gov"]
    with live.platform.db.session() as session:
        openid = session.scalars(select(ECard.openid).where(
            ECard.sign_no == live.sign_no)).one()
    return issue_ticket(gov.private_key, channel_no=GOV, kid=gov.kid, openid=openid,
                        now_s=int(time.time()))


def _fail(live: Live, url: str, faces_dir: Path) -> None:
    """Decide the linked session as failed through the page's own endpoint: two still
    frontal frames, none of the asked actions."""
    session_id, token = url.split("/h5/certify/")[1].split("#t=")
    frames = faces_dir / "liveness" / KATIE / "frames"
    now = datetime.now(UTC).isoformat()
    res = live.app.test_client().post(
        f"/h5/api/sessions/{session_id}/frames", headers={"Authorization": f"Bearer {token}"},
        json={"frames": [{"image": base64.b64encode((frames / f"frame_{n:05d}.jpg")
                                                    .read_bytes()).decode(),
                          "captured_at": now} for n in (2, 3)]})
    assert res.status_code == 200 and res.get_json()["passed"] is False, res.get_json()
    assert res.get_json()["next_step"]["kind"] == "elder_mode"
    # read again (a reload), the page still gets the next step
    again = live.app.test_client().get(f"/h5/api/sessions/{session_id}",
                                       headers={"Authorization": f"Bearer {token}"})
    assert again.get_json()["outcome"]["next_step"]["kind"] == "elder_mode"


def _newest(live: Live) -> CertificationSession:
    with live.platform.db.session() as session:
        return session.scalars(select(CertificationSession).order_by(
            CertificationSession.created_at.desc())).first()  # type: ignore[return-value]


def test_gov_app_holder_certifies_from_the_h5_home(playwright: Any, gov_live: Live,
                                                   tmp_path: Path, faces_dir: Path) -> None:
    # the seeded draw the start button will make, seen through a session of the API,
    # which then fails (it is the one whose next step we follow at the end)
    failed, failed_url, view = _session(gov_live, "standard", seed=0)
    assert failed["actions"] == ["turn_right", "blink", "turn_left"]
    _fail(gov_live, failed_url, faces_dir)
    video = _camera_video(tmp_path, faces_dir, "wda_katiehill", view)
    browser = _browser(playwright, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}")
    try:
        page, dialogs = _open(browser, f"{gov_live.base}/h5/sso#ticket={_ticket(gov_live)}")
        start = page.get_by_role("button", name="开始养老金资格认证")
        start.wait_for()
        assert page.url == f"{gov_live.base}/h5/"  # the ticket left the address bar
        assert "认证人：*蒂" in page.inner_text("main")
        gov_live.platform.extras[RNG_KEY] = random.Random(0)
        start.click()
        page.wait_for_url("**/h5/certify/**")
        page.get_by_role("button", name="开始认证").wait_for()
        started = _newest(gov_live)
        assert started.id != failed["session_id"] and started.mode == "standard"
        assert page.url == f"{gov_live.base}/h5/certify/{started.id}"
        _certify(page, view)
        assert page.evaluate("document.body.dataset.state") == "passed", page.inner_text("main")

        # the failed session's page: the elder next step starts an elder session here
        page.goto(failed_url)
        page.wait_for_function("() => document.body.dataset.state === 'failed'")
        page.get_by_role("button", name="用长辈模式重新认证").click()
        page.wait_for_function("(old) => document.body.dataset.state === 'ready'"
                               " && !location.pathname.endsWith(old)", arg=failed["session_id"])
        elder = _newest(gov_live)
        assert (elder.mode, elder.channel_no, elder.sign_no) == ("elder", GOV, gov_live.sign_no)
        assert page.url == f"{gov_live.base}/h5/certify/{elder.id}"
        assert page.evaluate("document.documentElement.classList.contains('elder')")
        assert "不着急，慢慢来。" in page.inner_text("main")
        assert dialogs == [] and page.evaluate("window.__dialogs") == 0
    finally:
        browser.close()
