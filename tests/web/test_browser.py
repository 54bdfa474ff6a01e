"""The H5 certification page in a real browser (Debian's Chromium through Playwright)
against a real HTTP server, with real frames of the shared set as the camera.

Each test: a live server (werkzeug, own thread, free port, SQLite, the system clock)
with katiehill enrolled (her frame 0 as template, as in tests/certification), a session
started through the signed API, its link asked through ``POST /api/v1/h5/links``; the
session's drawn actions and the page's capture plan choose frames of a clip by its
labels.csv, written as a .y4m that Chromium plays as the front camera
(``tests/web/video.py`` documents the conversion); then the page is driven like a user.
The draw is seeded so the passing session asks three actions (turn right, blink, turn
left); test_video.py checks that the chosen frames pass every draw the server can make
(but a blink asked twice, see there). SQLite only: the page's storage is
the API's, tested on both databases in test_links.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecard.certification.views import RNG_KEY
from tests.certification.helpers import SESSIONS, setup_platform
from tests.web.conftest import CHROMIUM
from tests.web.live import Live, live_server
from tests.web.video import clip_labels, load_rgb, plan_video, step_frames

pytestmark = pytest.mark.e2e

BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

# Records what the page asks the browser to speak or to pop up; pop-ups are forbidden
# in elder mode (and everywhere on these pages), so window.alert & co. only count.
SPY = """
window.__spoken = [];
window.__dialogs = 0;
if (window.speechSynthesis) {
  const original = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (u) => {
    window.__spoken.push({text: u.text, lang: u.lang, rate: u.rate});
    try { original(u); } catch (e) { /* no voice installed */ }
  };
}
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = () => { window.__dialogs += 1; };
}
"""


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path, faces_dir: Path) -> Iterator[Live]:
    with live_server(tmp_path, sqlite_template, faces_dir, setup_platform) as served:
        yield served


def _session(live: Live, mode: str, seed: int, return_url: str | None = None
             ) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Start a session (seeded draw) and ask its link: (session, page URL, page view)."""
    live.platform.extras[RNG_KEY] = random.Random(seed)
    started = live.client.post(SESSIONS, json={"sign_no": live.sign_no, "mode": mode})
    assert started.status_code == 201, started.get_json()
    s: dict[str, Any] = started.get_json()
    body: dict[str, Any] = {"session_id": s["session_id"]}
    if return_url:
        body["return_url"] = return_url
    link = live.client.post("/api/v1/h5/links", json=body)
    assert link.status_code == 201, link.get_json()
    path = link.get_json()["path"]
    view = live.app.test_client().get(
        f"/h5/api/sessions/{s['session_id']}",
        headers={"Authorization": "Bearer " + path.split("#t=")[1]}).get_json()
    return s, live.base + path, view


def _camera_video(tmp_path: Path, faces_dir: Path, clip: str, view: dict[str, Any]) -> Path:
    rows = clip_labels(faces_dir, clip)
    chosen = step_frames(rows, view["actions"])
    frames_dir = faces_dir / "liveness" / clip / "frames"
    out = tmp_path / f"{clip}.y4m"
    plan_video(out, view["plan"],
               lambda step: load_rgb(frames_dir / f"frame_{chosen[step]:05d}.jpg"))
    return out


def _browser(playwright: Any, *extra: str) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM),
                                      args=[*BASE_ARGS, *extra])


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # the page runs under its CSP: any inline script or style would be refused, loudly
    page.on("console", lambda m: dialogs.append("CSP: " + m.text)
            if "Content Security Policy" in m.text else None)
    page.add_init_script(SPY)
    page.goto(url)
    return page, dialogs


def _certify(page: Any, view: dict[str, Any]) -> None:
    page.get_by_role("button", name="开始认证").click()
    page.wait_for_function("() => ['passed', 'failed', 'error', 'link-invalid']"
                           ".includes(document.body.dataset.state)",
                           timeout=(view["plan"]["end_s"] + 45) * 1000)


def test_katie_passes_in_the_browser(playwright: Any, live: Live, tmp_path: Path,
                                     faces_dir: Path) -> None:
    s, url, view = _session(live, "standard", seed=0,
                            return_url="https://app.example.cn/cert/done")
    assert s["actions"] == ["turn_right", "blink", "turn_left"]
    video = _camera_video(tmp_path, faces_dir, "wda_katiehill", view)
    browser = _browser(playwright, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}")
    try:
        page, dialogs = _open(browser, url)
        page.get_by_text("认证人：*蒂").wait_for()
        assert "凯蒂" not in page.content()
        _certify(page, view)
        assert page.evaluate("document.body.dataset.state") == "passed", page.inner_text("main")
        assert page.get_by_role("heading", name="认证通过").is_visible()
        assert "认证有效期至" in page.inner_text("main")
        back = page.get_by_role("link", name="返回应用").get_attribute("href")
        assert back == ("https://app.example.cn/cert/done?session_id=" + s["session_id"]
                        + "&result=passed")
        spoken = page.evaluate("window.__spoken")
        texts = [u["text"] for u in spoken]
        assert all(p["speak"] in texts for p in s["prompts"]["steps"]), texts
        assert {u["lang"] for u in spoken} == {"zh-CN"}
        assert dialogs == [] and page.evaluate("window.__dialogs") == 0
        # the token left the address bar; a reload in the same tab shows the outcome
        assert "#t=" not in page.url and "h5t1" not in page.url
        page.reload()
        page.wait_for_function("() => document.body.dataset.state === 'passed'")
        assert page.get_by_role("heading", name="认证通过").is_visible()
    finally:
        browser.close()


def test_another_persons_video_fails_with_the_reason_in_words(
        playwright: Any, live: Live, tmp_path: Path, faces_dir: Path) -> None:
    _s, url, view = _session(live, "standard", seed=2)
    video = _camera_video(tmp_path, faces_dir, "hamilton_short", view)
    browser = _browser(playwright, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}")
    try:
        page, _ = _open(browser, url)
        _certify(page, view)
        text = page.inner_text("main")
        assert page.evaluate("document.body.dataset.state") == "failed", text
        assert "认证未通过" in text
        assert "人脸与登记照片不一致，请本人操作。" in text  # FACE_MISMATCH, in words
        assert "下一步" in text and "长辈模式" in text     # next_step: elder mode
        page.get_by_role("button", name="开启长辈模式").click()
        assert page.evaluate("localStorage.getItem('ecard.elder')") == "1"
        assert page.evaluate("document.documentElement.classList.contains('elder')")
    finally:
        browser.close()


# -- elder mode, measured in the browser -------------------------------------------------
MEASURE = """
() => {
  const parse = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const visible = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden"; };
  const out = {text: [], targets: []};
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el) || ["SCRIPT", "STYLE", "svg", "VIDEO"].includes(el.tagName)) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const cs = getComputedStyle(el);
    if (own) {
      const fg = lum(parse(cs.color).slice(0, 3)), bg = lum(background(el));
      const size = parseFloat(cs.fontSize);
      out.text.push({text: el.textContent.trim().slice(0, 20), tag: el.tagName, size,
        lineHeight: cs.lineHeight === "normal" ? 0 : parseFloat(cs.lineHeight) / size,
        contrast: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)});
    }
    if (el.matches("button, a[href], [role=button], input, select")) {
      const r = el.getBoundingClientRect();
      out.targets.push({text: el.textContent.trim().slice(0, 20), w: r.width, h: r.height,
        size: parseFloat(cs.fontSize)});
    }
  }
  out.dialogs = document.querySelectorAll("dialog[open], [role=dialog], [aria-modal]").length;
  return out;
}
"""


def _assert_elder_layout(page: Any, where: str) -> dict[str, Any]:
    m: dict[str, Any] = page.evaluate(MEASURE)
    assert m["text"] and m["dialogs"] == 0, where
    for t in m["text"]:
        assert t["size"] >= 24, (where, t)             # main text >= 18 pt
        assert t["lineHeight"] >= 1.3 - 1e-3, (where, t)  # line spacing >= 1.3
        assert t["contrast"] >= 4.5, (where, t)        # contrast >= 4.5:1
    for b in m["targets"]:
        assert b["w"] >= 60 and b["h"] >= 60, (where, b)  # touch targets >= 60x60
    return m


def test_elder_mode_in_the_browser(playwright: Any, live: Live, tmp_path: Path,
                                   faces_dir: Path) -> None:
    s, url, view = _session(live, "elder", seed=1)
    assert view["prompts"]["countdown"] is False and len(s["actions"]) == 1
    video = _camera_video(tmp_path, faces_dir, "wda_katiehill", view)
    browser = _browser(playwright, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}")
    try:
        page, dialogs = _open(browser, live.base + "/h5/settings")
        # the entry on the settings page (and the home page) remembers the choice
        page.get_by_role("button", name="开启长辈模式").click()
        assert page.evaluate("localStorage.getItem('ecard.elder')") == "1"
        page.goto(live.base + "/h5/")
        assert page.evaluate("document.documentElement.classList.contains('elder')")
        assert page.get_by_text("长辈模式：已开启").is_visible()
        _assert_elder_layout(page, "home")
        page.goto(url)
        start = page.get_by_role("button", name="开始认证")
        start.wait_for()
        m = _assert_elder_layout(page, "ready")
        main = [b for b in m["targets"] if b["text"] == "开始认证"]
        assert main and main[0]["size"] >= 40  # main functions >= 30 pt
        assert "秒内" not in page.inner_text("main")  # no time pressure
        start.click()
        page.wait_for_function("() => window.__spoken.length >= 2")
        assert page.locator("[data-role=countdown]").is_hidden()  # no countdown
        _assert_elder_layout(page, "camera")
        page.wait_for_function("() => ['passed', 'failed'].includes(document.body.dataset.state)",
                               timeout=(view["plan"]["end_s"] + 45) * 1000)
        assert page.evaluate("document.body.dataset.state") == "passed", page.inner_text("main")
        _assert_elder_layout(page, "result")
        spoken = page.evaluate("window.__spoken")
        step = s["prompts"]["steps"][0]
        assert any(u["text"] == step["speak"] and u["rate"] <= 0.75 and u["lang"] == "zh-CN"
                   for u in spoken), spoken
        assert dialogs == [] and page.evaluate("window.__dialogs") == 0
    finally:
        browser.close()


@pytest.mark.parametrize(("flags", "state", "words"), [
    (["--use-fake-ui-for-media-stream=deny", "--use-fake-device-for-media-stream"],
     "camera-denied", "允许"),
    (["--use-fake-ui-for-media-stream"], "camera-missing", "没有找到可用的前置摄像头"),
])
def test_camera_denied_or_missing_shows_what_to_do(playwright: Any, live: Live,
                                                   flags: list[str], state: str,
                                                   words: str) -> None:
    _, url, _ = _session(live, "standard", seed=3)
    browser = _browser(playwright, *flags)
    try:
        page, dialogs = _open(browser, url)
        page.get_by_role("button", name="开始认证").click()
        page.wait_for_function(f"() => document.body.dataset.state === '{state}'")
        text = page.inner_text("main")
        assert "无法使用摄像头" in text and words in text and "Error" not in text
        assert page.get_by_role("button", name="重试").is_visible() and dialogs == []
    finally:
        browser.close()


def test_forged_and_missing_tokens_show_a_clear_screen(playwright: Any, live: Live) -> None:
    s, url, _ = _session(live, "standard", seed=3)
    browser = _browser(playwright)
    try:
        for bad in (url[: url.index("#t=")] + "#t=h5t1.e30.AAAA", url[: url.index("#t=")]):
            page, _ = _open(browser, bad)
            page.wait_for_function("() => document.body.dataset.state === 'link-invalid'")
            text = page.inner_text("main")
            assert "返回应用" in text and "无法继续" in text
            assert not page.get_by_role("button", name="开始认证").is_visible()
            page.close()
    finally:
        browser.close()
    assert s["session_id"] in url
