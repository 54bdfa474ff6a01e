"""The link API for channels and the page's JSON endpoints, through the Flask test
client (SQLite, and PostgreSQL when configured). No browser here: tests/web/
test_browser.py drives the page itself."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ecard.certification.views import RNG_KEY
from ecard.clock import FrozenClock
from ecard.platform import Platform
from ecard.web.links import InvalidLink, LinkClaims, LinkSigner, derive_link_key
from ecard.web.plan import BASELINE, capture_plan, frames_per_step
from tests.cards.helpers import make_channel, signed
from tests.certification.helpers import SESSIONS, katie_holder, setup_platform
from tests.support.channel_client import SignedClient

LINKS = "/api/v1/h5/links"


@pytest.fixture
def world(app: Flask, platform: Platform, faces_dir: Path) -> tuple[SignedClient, str]:
    platform.extras[RNG_KEY] = random.Random(7)
    channel = setup_platform(platform)
    _, sign_no = katie_holder(platform, faces_dir, channel)
    return signed(app.test_client(), channel), sign_no


def _start(client: SignedClient, sign_no: str, mode: str = "standard") -> dict[str, Any]:
    res = client.post(SESSIONS, json={"sign_no": sign_no, "mode": mode})
    assert res.status_code == 201, res.get_json()
    body: dict[str, Any] = res.get_json()
    return body


def _link(client: SignedClient, session_id: str, **extra: Any) -> Any:
    return client.post(LINKS, json={"session_id": session_id, **extra})


def _token(path: str) -> str:
    return path.split("#t=", 1)[1]


def test_link_reads_the_session_without_personal_data(
        world: tuple[SignedClient, str], app: Flask) -> None:
    client, sign_no = world
    s = _start(client, sign_no, "elder")
    res = _link(client, s["session_id"], return_url="https://app.example.cn/back?x=1")
    assert res.status_code == 201, res.get_json()
    link = res.get_json()
    assert link["path"].startswith(f"/h5/certify/{s['session_id']}#t=h5t1.")
    assert link["url"].endswith(link["path"]) and link["url"].startswith("http")
    page = app.test_client()
    view = page.get(f"/h5/api/sessions/{s['session_id']}",
                    headers={"Authorization": f"Bearer {_token(link['path'])}"})
    assert view.status_code == 200, view.get_json()
    body = view.get_json()
    assert body["mode"] == "elder" and body["actions"] == s["actions"]
    assert body["prompts"] == s["prompts"] and body["status"] == "open"
    assert body["name_masked"] == "*蒂"  # the masked name, never the name or the ID
    text = json.dumps(body, ensure_ascii=False)
    assert "凯蒂" not in text and sign_no not in text and "nonce" not in body
    assert body["return_url"] == ("https://app.example.cn/back?x=1&session_id="
                                  + s["session_id"])
    caps = body["plan"]["captures"]
    assert len(caps) <= body["max_frames"] and caps[0]["step"] == BASELINE
    assert [c["at_s"] for c in caps] == sorted(c["at_s"] for c in caps)


def test_link_refusals(world: tuple[SignedClient, str], app: Flask,
                       platform: Platform) -> None:
    client, sign_no = world
    s = _start(client, sign_no)
    unknown = _link(client, "cs_nope")
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "SESSION_NOT_FOUND")
    bad_url = _link(client, s["session_id"], return_url="javascript:alert(1)")
    assert (bad_url.status_code, bad_url.get_json()["code"]) == (422, "VALIDATION_FAILED")
    assert "return_url" in bad_url.get_json()["details"]["fields"]["json"]
    # another channel cannot link (nor learn of) this channel's session
    other = signed(app.test_client(), make_channel(platform, "1000000002"))
    theirs = _link(other, s["session_id"])
    assert (theirs.status_code, theirs.get_json()["code"]) == (404, "SESSION_NOT_FOUND")
    # unsigned: refused before the body is read
    anon = app.test_client().post(LINKS, json={"session_id": s["session_id"]})
    assert (anon.status_code, anon.get_json()["code"]) == (401, "AUTH_MISSING")


def test_forged_expired_and_misused_tokens_are_refused(
        world: tuple[SignedClient, str], app: Flask, platform: Platform,
        clock: FrozenClock) -> None:
    client, sign_no = world
    s1, s2 = _start(client, sign_no), _start(client, sign_no)
    token = _token(_link(client, s1["session_id"]).get_json()["path"])
    page = app.test_client()

    def read(session_id: str, tok: str | None) -> Any:
        headers = {"Authorization": f"Bearer {tok}"} if tok is not None else {}
        return page.get(f"/h5/api/sessions/{session_id}", headers=headers)

    head, payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sid"] = s2["session_id"]
    swapped = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = [None, "", "garbage", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
              f"{head}.{swapped}.{mac}",
              LinkSigner(b"k" * 32).issue(LinkClaims(s1["session_id"], "1000000001",
                                                     2**40, None))]
    for tok in forged:
        res = read(s1["session_id"], tok)
        assert (res.status_code, res.get_json()["code"]) == (401, "H5_LINK_INVALID"), tok
    # a good token names one session only
    other = read(s2["session_id"], token)
    assert (other.status_code, other.get_json()["code"]) == (401, "H5_LINK_INVALID")
    assert read(s1["session_id"], token).status_code == 200
    frames = page.post(f"/h5/api/sessions/{s1['session_id']}/frames",
                       headers={"Authorization": "Bearer nope"}, json={"frames": []})
    assert frames.get_json()["code"] == "H5_LINK_INVALID"
    # the token dies at the session's deadline (60 s in standard mode)
    clock.advance(seconds=60)
    late = read(s1["session_id"], token)
    assert (late.status_code, late.get_json()["code"]) == (401, "H5_LINK_INVALID")
    assert "过期" in late.get_json()["message"]
    # and no link is issued for an expired session
    client.now = lambda: clock.now().timestamp()
    gone = _link(client, s1["session_id"])
    assert (gone.status_code, gone.get_json()["code"]) == (422, "SESSION_EXPIRED")


def test_frames_are_validated_before_the_service(world: tuple[SignedClient, str],
                                                 app: Flask) -> None:
    client, sign_no = world
    s = _start(client, sign_no)
    token = _token(_link(client, s["session_id"]).get_json()["path"])
    page = app.test_client()
    url = f"/h5/api/sessions/{s['session_id']}/frames"
    auth = {"Authorization": f"Bearer {token}"}
    not_json = page.post(url, headers=auth, data="x", content_type="text/plain")
    assert (not_json.status_code, not_json.get_json()["code"]) == (400, "BAD_REQUEST")
    empty = page.post(url, headers=auth, json={"frames": []})
    assert (empty.status_code, empty.get_json()["code"]) == (422, "VALIDATION_FAILED")
    junk = page.post(url, headers=auth, json={"frames": [
        {"image": "!!!!not-base64!!!!", "captured_at": "2026-01-01T00:00:00Z"}]})
    assert (junk.status_code, junk.get_json()["code"]) == (422, "IMAGE_INVALID")
    # nothing was decided: the session is still open for the real frames
    view = page.get(f"/h5/api/sessions/{s['session_id']}", headers=auth).get_json()
    assert view["status"] == "open" and "outcome" not in view


def test_pages_carry_the_security_headers(app: Flask) -> None:
    page = app.test_client()
    for path in ("/h5/", "/h5/settings", "/h5/certify/cs_abc", "/h5/static/certify.js",
                 "/h5/api/sessions/cs_abc"):
        res = page.get(path)
        csp = res.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp and res.headers["X-Frame-Options"] == "DENY"
        assert res.headers["Referrer-Policy"] == "no-referrer"
        assert "camera=(self)" in res.headers["Permissions-Policy"]
    html = page.get("/h5/certify/cs_abc").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "onclick" not in html
    assert page.get("/h5/certify/..%2Fx").status_code == 404
    assert page.get("/h5/certify/会话").get_json()["code"] == "NOT_FOUND"


def test_links_are_keyed_per_purpose_and_expire_at_their_time() -> None:
    signer = LinkSigner(derive_link_key(b"m" * 32))
    assert derive_link_key(b"m" * 32) != derive_link_key(b"n" * 32)
    token = signer.issue(LinkClaims("cs_1", "1000000001", 1000, "https://a.example/x"))
    assert signer.verify_at_time(token, "cs_1", 999).return_url == "https://a.example/x"
    for sid, now in (("cs_1", 1000), ("cs_2", 10)):
        with pytest.raises(InvalidLink):
            signer.verify_at_time(token, sid, now)


@pytest.mark.parametrize("actions", [["blink", "open_mouth", "turn_left"], ["turn_right"]])
def test_capture_plan_orders_and_budgets_frames(actions: list[str]) -> None:
    for mode in ("standard", "elder"):
        plan = capture_plan(mode, actions, 12, [2.0] * len(actions))
        steps = [c.step for c in plan.captures]
        assert steps == sorted(steps) and len(steps) <= 12
        assert steps[0] == BASELINE and steps[-1] == len(actions)
        assert set(steps) == {BASELINE, *range(len(actions) + 1)}
        cue_at = {c.step: c.at_s for c in plan.cues}
        assert all(c.at_s > cue_at[c.step] for c in plan.captures)
    assert frames_per_step(3, 12) == (2, 3, 1)
    with pytest.raises(ValueError):
        frames_per_step(3, 3)


def test_expiry_follows_the_deadline(world: tuple[SignedClient, str], app: Flask,
                                     clock: FrozenClock) -> None:
    client, sign_no = world
    s = _start(client, sign_no, "elder")  # 300 s
    token = _token(_link(client, s["session_id"]).get_json()["path"])
    page = app.test_client()
    clock.advance(seconds=299)
    ok = page.get(f"/h5/api/sessions/{s['session_id']}",
                  headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    clock.advance(seconds=1)
    assert page.get(f"/h5/api/sessions/{s['session_id']}",
                    headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_link_endpoint_is_in_the_openapi_document(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    op = spec["paths"]["/api/v1/h5/links"]["post"]
    assert op["security"] == [{"channelJWT": []}] and "201" in op["responses"]
    schema = spec["components"]["schemas"]["H5LinkRequest"]
    assert {"session_id", "return_url"} <= set(schema["properties"])
    assert not any(p.startswith("/h5/") for p in spec["paths"])  # the page's own API


def test_link_requests_are_idempotent_per_channel(
        world: tuple[SignedClient, str]) -> None:
    """``POST /h5/links`` keys its Idempotency-Key by the calling channel, like every
    channel POST: a retry gets the stored answer; another body under the key is 409."""
    client, sign_no = world
    s = _start(client, sign_no)
    key = {"Idempotency-Key": "link-retry-1"}
    first = client.post(LINKS, json={"session_id": s["session_id"]}, headers=key)
    retry = client.post(LINKS, json={"session_id": s["session_id"]}, headers=key)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.get_json() == first.get_json()
    other = client.post(LINKS, json={"session_id": s["session_id"],
                                     "return_url": "https://app.example.cn/back"},
                        headers=key)
    assert (other.status_code, other.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
