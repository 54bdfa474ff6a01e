"""The samples end to end, as real processes on loopback: the backend (`ecard serve`,
two workers), the callback worker (`ecard worker`) and the sample channel server
(`python -m samples.channel_server`), driven through the sample app's JSON API, the
sample terminal's command line and the SDK. Nothing of our own is mocked.

The demo holder 周雅琴 is enrolled (by `ecard demo load`) from frame 0 of the real clip
shared/faces/liveness/wda_katiehill; she claims her e-card in the sample app with a
liveness session answered with that clip's frames, chosen for the actions asked.
The tests build on each other in file order (claim → codes → payment → callbacks).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from ecard_sdk import EcardClient, EcardError

from samples.liveness_frames import Clip
from tests.e2e.processes import PY, ROOT, Stack, free_port, wait_until

pytestmark = pytest.mark.e2e

APP, HOSPITAL = "3000000001", "3000000002"
PIN = "582914"
# The demo holder enrolled from katiehill's frame 0 (samples/demo/persons.csv).
KATIE = {"name": "周雅琴", "id_number": "330106195605120420", "card_no": "Z33010601"}
WANG = {"name": "王秀英", "id_number": "370202195204180243", "card_no": "Q37020201"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Iterator[Stack]:
    instance = tmp_path_factory.mktemp("instance")
    st = Stack.create(instance)
    try:
        st.run("-m", "ecard", "init")
        st.run("-m", "ecard", "demo", "load")
        recipients = instance / "recipients.csv"  # 周雅琴 draws a pension
        recipients.write_text(
            "aac002,type,monthly_pension_fen,funeral_grant_fen,survivor_lump_sum_fen,region,"
            f"bank_account\n{KATIE['id_number']},enterprise_retiree,300000,1500000,2700000,"
            "330106,6217003301000066666\n", encoding="utf-8")
        st.run("-m", "ecard", "certification", "import-recipients", str(recipients))
        st.run("-m", "samples.channel_server.register",
               "--callback-url", st.sample_url + "/callbacks")
        st.start_backend()
        st.start_worker()
        st.start_sample()
        yield st
    finally:
        st.stop_all()


def app_call(st: Stack, method: str, path: str, body: dict[str, Any] | None = None,
             expect: int | None = None) -> Any:
    resp = requests.request(method, st.sample_url + path, json=body, timeout=60)
    if expect is not None:
        assert resp.status_code == expect, resp.text
    return resp.json()


def sdk_client(st: Stack, channel_no: str) -> EcardClient:
    return EcardClient(base_url=st.ecard_url, channel_no=channel_no,
                       private_key=(st.sample_dir / f"{channel_no}.pem").read_bytes(),
                       kid=f"sample-{channel_no}", accept_language="en")


def callbacks(st: Stack, sign_no: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = app_call(st, "GET", f"/api/callbacks?sign_no={sign_no}",
                                         expect=200)["callbacks"]
    return got


def wait_for_callbacks(st: Stack, sign_no: str, count: int,
                       timeout_s: float = 30) -> list[dict[str, Any]]:
    """The app's callbacks of the e-card once at least ``count`` have arrived."""
    wait_until(lambda: len(callbacks(st, sign_no)) >= count, timeout_s=timeout_s,
               what=f"{count} callbacks", every_s=0.3)
    return callbacks(st, sign_no)


def terminal(st: Stack, image: Path, *args: str) -> tuple[int, str]:
    import subprocess
    done = subprocess.run(
        [PY, "-m", "samples.terminal", str(image), "--ecard-url", st.ecard_url,
         "--sample-dir", str(st.sample_dir), *args],
        env=st.env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def save_png(st: Stack, name: str, png_base64: str) -> Path:
    path = st.instance / name
    path.write_bytes(base64.b64decode(png_base64))
    return path


def upload(frames: list[bytes]) -> dict[str, Any]:
    t0 = datetime.now(UTC) - timedelta(seconds=len(frames))
    return {"mirrored": False, "frames": [
        {"image": base64.b64encode(f).decode(),
         "captured_at": (t0 + timedelta(milliseconds=400 * i)).isoformat()}
        for i, f in enumerate(frames)]}


@pytest.fixture(scope="module")
def clip(faces_dir: Path) -> Clip:
    """Her clip; frame 0 is her enrolment photo, and no frame goes in two sessions."""
    return Clip(faces_dir / "liveness/wda_katiehill", reserved={0})


def start_session(st: Stack, path: str, body: dict[str, Any], clip: Clip) -> dict[str, Any]:
    """The server draws the actions: start sessions until one asks only actions the
    clip shows, each once (an unused session just expires)."""
    for _ in range(20):
        session: dict[str, Any] = app_call(st, "POST", path, body, expect=201)
        if clip.can_show(session["actions"]):
            return session
    pytest.fail("no session asked actions the clip shows")


@pytest.fixture(scope="module")
def katie(stack: Stack, clip: Clip) -> str:
    """Her e-card claimed in the sample app (liveness session, then issuance); her
    sign number."""
    st = stack
    app_call(st, "POST", "/api/users", {"username": "katie"}, expect=201)
    session = start_session(st, "/api/users/katie/claim/start", {**KATIE, "mode": "standard"},
                            clip)
    assert session["prompts"]["steps"] and session["nonce"]
    decision = app_call(st, "POST", f"/api/users/katie/claim/{session['session_id']}/frames",
                        upload(clip.frames_for(session["actions"])), expect=200)
    assert decision["passed"] is True, decision
    card = app_call(st, "POST", f"/api/users/katie/claim/{session['session_id']}/issue",
                    {"pin": PIN}, expect=201)
    assert card["event"] == "issued" and card["level"] == 1
    assert KATIE["id_number"] not in json.dumps(card, ensure_ascii=False)  # masked
    sign_no: str = card["sign_no"]
    return sign_no


def test_claim_needs_a_passed_session_and_the_issued_callback_arrives_verified(
        stack: Stack, katie: str) -> None:
    user = app_call(stack, "GET", "/api/users/katie", expect=200)
    assert user["sign_no"] == katie and user["ecard"]["status"] == "active"
    # a session that was never passed cannot issue (the platform's code comes through)
    other = app_call(stack, "POST", "/api/users", {"username": "mallory"}, expect=201)
    assert other["sign_no"] is None
    session = app_call(stack, "POST", "/api/users/mallory/claim/start", WANG, expect=201)
    refused = requests.post(
        f"{stack.sample_url}/api/users/mallory/claim/{session['session_id']}/issue",
        json={"pin": PIN}, timeout=30)
    assert 400 <= refused.status_code < 500, refused.text
    assert refused.json()["source"] == "platform" and refused.json()["code"]
    assert app_call(stack, "GET", "/api/users/mallory")["sign_no"] is None
    # katie's e-card in this channel belongs to her account of the app only
    taken = requests.post(f"{stack.sample_url}/api/users/mallory/relink",
                          json={**KATIE, "pin": PIN}, timeout=30)
    assert taken.status_code == 409 and taken.json()["code"] == "ECARD_HELD_BY_ANOTHER_USER"
    got = wait_for_callbacks(stack, katie, 2)
    assert [c["event"] for c in got] == ["issued", "already_issued"]
    assert all(c["deliveries"] == 1 and c["attempt"] == 1 for c in got)


def test_a_forged_callback_is_refused_and_not_recorded(stack: Stack, katie: str) -> None:
    before = callbacks(stack, katie)
    body = json.dumps({"id": "999999", "event": "unlinked", "sign_no": katie,
                       "channel_no": APP, "occurred_at": datetime.now(UTC).isoformat(),
                       "data": {}}).encode()
    for headers in ({}, {"Ecard-Signature": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"}):
        resp = requests.post(stack.sample_url + "/callbacks", data=body, timeout=10,
                             headers={"Content-Type": "application/json", **headers})
        assert resp.status_code == 401 and resp.json()["code"] == "CALLBACK_REFUSED"
    assert callbacks(stack, katie) == before
    assert app_call(stack, "GET", "/api/users/katie")["card_status"] == "active"


def test_identity_code_verified_offline_then_online_by_the_terminal(
        stack: Stack, katie: str) -> None:
    code = app_call(stack, "POST", "/api/users/katie/identity-code", {}, expect=201)
    assert code["code"].startswith("EC1.")
    image = save_png(stack, "identity.png", code["png_base64"])
    status, out = terminal(stack, image, "--scene", "04")
    assert status == 0, out
    assert re.search(r"offline\s+OK e-card #\d+ shown from channel 3000000001", out), out
    assert "online    OK" in out and "RESULT    ACCEPTED" in out
    # the hospital may receive the full ID number in cross-region medical settlement
    assert KATIE["id_number"] in out and "birth_date" in out
    # redeemed once: the same picture again passes offline, is refused online
    status, out = terminal(stack, image, "--scene", "04")
    assert status == 1 and "CODE_ALREADY_REDEEMED" in out and "offline   OK" in out, out
    # no network at all: judged against the cached JWKS and status list
    fresh = app_call(stack, "POST", "/api/users/katie/identity-code", {"scenes": ["01"]},
                     expect=201)
    image = save_png(stack, "identity-01.png", fresh["png_base64"])
    status, out = terminal(stack, image, "--scene", "01", "--offline-only")
    assert status == 0 and "accepted offline" in out and "cached" in out, out
    status, out = terminal(stack, image, "--scene", "02", "--offline-only")
    assert status == 1 and "wrong_scene" in out, out
    # the platform unreachable: offline from the cache passes, the online check cannot
    status, out = terminal(stack, image, "--scene", "01", "--ecard-url",
                           f"http://127.0.0.1:{free_port()}")
    assert status == 3 and "cached" in out and "UNCERTAIN" in out, out


def test_terminal_input_errors(stack: Stack, faces_dir: Path) -> None:
    photo = faces_dir / "liveness/wda_katiehill/frames/frame_00001.jpg"
    status, out = terminal(stack, photo)
    assert status == 2 and "expected one QR code" in out, out
    status, out = terminal(stack, stack.instance / "missing.png")
    assert status == 2 and "cannot read the image" in out, out


def _sms_code(st: Stack) -> str:
    lines = (st.instance / "sms-outbox.log").read_text(encoding="utf-8").splitlines()
    match = re.search(r"验证码(\d{6})", json.loads(lines[-1])["text"])
    assert match, lines[-1]
    return match.group(1)


def test_pay_with_a_payment_code_at_the_terminal_then_refund(stack: Stack, katie: str) -> None:
    before = len(callbacks(stack, katie))
    app_call(stack, "POST", "/api/users/katie/payment/sms", {}, expect=201)
    # a wrong SMS code is the platform's refusal, passed through with its code
    wrong = requests.post(f"{stack.sample_url}/api/users/katie/payment/enable",
                          json={"sms_code": "000000"}, timeout=30)
    assert wrong.status_code >= 400 and wrong.json()["source"] == "platform", wrong.text
    enabled = app_call(stack, "POST", "/api/users/katie/payment/enable",
                       {"sms_code": _sms_code(stack)}, expect=201)
    assert enabled["level"] == 2 and "device_secret" not in enabled
    pay = app_call(stack, "POST", "/api/users/katie/payment-code", {}, expect=201)
    assert re.fullmatch(r"81\d{16}", pay["code"])
    image = save_png(stack, "pay.png", pay["png_base64"])
    status, out = terminal(stack, image, "--amount-fen", "1250", "--order-id", "E2E-1")
    assert status == 0 and "captured" in out and "12.50 CNY" in out, out
    payment_id = re.search(r"captured (\S+) order E2E-1", out)
    assert payment_id, out
    # the same code again: redeemable once, ever
    status, out = terminal(stack, image, "--amount-fen", "100", "--order-id", "E2E-2")
    assert status == 1 and "PAYMENT_CODE_USED" in out, out
    hospital = sdk_client(stack, HOSPITAL)
    refund = hospital.refunds.create(payment_id.group(1), amount_fen=250, refund_id="R-E2E-1")
    again = hospital.refunds.create(payment_id.group(1), amount_fen=250, refund_id="R-E2E-1")
    assert refund.payment.refunded_fen == 250 == again.payment.refunded_fen  # idempotent
    assert hospital.payments.retrieve(payment_id.group(1)).status == "partially_refunded"
    with pytest.raises(EcardError) as too_much:
        hospital.refunds.create(payment_id.group(1), amount_fen=1001, refund_id="R-E2E-2")
    assert too_much.value.code == "REFUND_EXCEEDS_CAPTURED"
    rest = hospital.refunds.create(payment_id.group(1), amount_fen=1000, refund_id="R-E2E-3")
    assert rest.payment.refunded_fen == 1250 and rest.payment.status == "refunded"
    # the holder's channel hears of level 2, the capture and each distinct refund (the
    # idempotent repeat of R-E2E-1 posts nothing and tells nothing)
    got = wait_for_callbacks(stack, katie, before + 5)[before:]
    assert [c["event"] for c in got] == ["verified_by_sms", "payment_enabled",
                                         "payment_captured", "payment_refunded",
                                         "payment_refunded"]


def test_pay_a_merchant_presented_order_in_the_app(stack: Stack, katie: str) -> None:
    """主扫: the hospital's counter creates the order with the SDK and shows its code;
    the user scans it in the app, sees merchant and amount, and pays with the PIN."""
    before = len(callbacks(stack, katie))
    hospital = sdk_client(stack, HOSPITAL)
    order = hospital.merchant_orders.create(order_id="E2E-MO-1", amount_fen=800)
    assert order.status == "open" and order.order_token.startswith("EO1.")
    scanned = {"order_token": order.order_token}
    shown = app_call(stack, "POST", "/api/users/katie/merchant-orders/lookup", scanned,
                     expect=200)
    assert (shown["merchant_no"], shown["amount_fen"], shown["status"]) == (
        HOSPITAL, 800, "open")
    missing = requests.post(f"{stack.sample_url}/api/users/katie/merchant-orders/pay",
                            json=scanned, timeout=30)
    assert (missing.status_code, missing.json()["code"]) == (400, "FIELD_MISSING")
    paid = app_call(stack, "POST", "/api/users/katie/merchant-orders/pay",
                    {**scanned, "pin": PIN}, expect=200)
    assert (paid["status"], paid["amount_fen"], paid["order_id"]) == (
        "captured", 800, "E2E-MO-1")
    assert hospital.payments.retrieve(paid["payment_id"]).status == "captured"
    again = app_call(stack, "POST", "/api/users/katie/merchant-orders/pay",
                     {**scanned, "pin": PIN}, expect=200)
    assert again["payment_id"] == paid["payment_id"]  # a retry, not a second charge
    unknown = requests.post(f"{stack.sample_url}/api/users/katie/merchant-orders/lookup",
                            json={"order_token": "EO1.unknown"}, timeout=30)
    assert unknown.json()["code"] == "ORDER_NOT_FOUND", unknown.text
    assert unknown.json()["source"] == "platform"
    got = wait_for_callbacks(stack, katie, before + 1)[before:]
    assert [c["event"] for c in got] == ["payment_captured"]


def test_callbacks_survive_the_app_being_down_and_arrive_in_order(
        stack: Stack, katie: str) -> None:
    before = [c["id"] for c in callbacks(stack, katie)]
    stack.stop("sample")
    app = sdk_client(stack, APP)  # the app's server is down; its channel still acts
    app.cards.verify_pin(katie, PIN)
    assert app.cards.issue(name=KATIE["name"], id_number=KATIE["id_number"],
                           card_no=KATIE["card_no"], pin=PIN).event == "already_issued"
    app.cards.verify_pin(katie, PIN)
    # the worker tries, fails to connect, and schedules a retry (10 s, ±20 %)
    time.sleep(1.5)
    stack.start_sample()
    expected = ["pin_verified", "already_issued", "pin_verified"]
    got = [c for c in wait_for_callbacks(stack, katie, len(before) + 3, timeout_s=45)
           if c["id"] not in before]
    assert [c["event"] for c in got] == expected, got
    assert [int(c["id"]) for c in got] == sorted(int(c["id"]) for c in got)
    assert got[0]["attempt"] >= 2  # it failed while the app was down, then arrived
    assert all(c["deliveries"] == 1 for c in got)


def test_entitlement_certification_in_the_app(stack: Stack, katie: str, clip: Clip) -> None:
    # elder mode, as a pensioner would: one action, 300 s, spoken prompts
    session = start_session(stack, "/api/users/katie/certification", {"mode": "elder"}, clip)
    assert len(session["actions"]) == 1 and session["prompts"]["steps"][0]["speak"]
    decision = app_call(stack, "POST",
                        f"/api/users/katie/certification/{session['session_id']}/frames",
                        upload(clip.frames_for(session["actions"])), expect=200)
    assert decision["passed"] is True, decision
    assert decision["entitlement"]["status"] == "valid"
    # a session is decided once; the platform's refusal comes through unchanged
    again = requests.post(
        f"{stack.sample_url}/api/users/katie/certification/{session['session_id']}/frames",
        json=upload(clip.frames_for([])), timeout=60)
    assert again.status_code == 409 and again.json()["code"] == "SESSION_ALREADY_DECIDED"


def test_the_app_hands_certification_to_the_h5_page(stack: Stack, katie: str) -> None:
    link = app_call(stack, "POST", "/api/users/katie/certification/h5",
                    {"mode": "elder", "return_url": f"{stack.sample_url}/"}, expect=201)
    assert link["mode"] == "elder" and link["url"] == stack.ecard_url + link["path"]
    page_path, token = link["path"].split("#t=")
    assert page_path == f"/h5/certify/{link['session_id']}"
    page = requests.get(stack.ecard_url + page_path, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    view = requests.get(f"{stack.ecard_url}/h5/api/sessions/{link['session_id']}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert view.status_code == 200, view.text
    body = view.json()
    assert (body["mode"], body["status"]) == ("elder", "open")
    assert body["name_masked"].endswith("琴") and "周雅琴" not in view.text  # masked
    assert body["return_url"].startswith(f"{stack.sample_url}/?session_id=")
    forged = requests.get(f"{stack.ecard_url}/h5/api/sessions/{link['session_id']}",
                          headers={"Authorization": f"Bearer {token[:-4]}AAAA"}, timeout=30)
    assert forged.status_code == 401 and forged.json()["code"] == "H5_LINK_INVALID"
    nobody = requests.post(f"{stack.sample_url}/api/users/nobody/certification/h5", json={},
                           timeout=30)
    assert nobody.status_code == 404 and nobody.json()["code"] == "USER_NOT_FOUND"


def test_unlink_in_the_app(stack: Stack, katie: str) -> None:
    wrong = requests.post(f"{stack.sample_url}/api/users/katie/unlink",
                          json={"pin": "000000"}, timeout=30)
    assert wrong.status_code >= 400 and wrong.json()["source"] == "platform"
    before = len(callbacks(stack, katie))
    app_call(stack, "POST", "/api/users/katie/unlink", {"pin": PIN}, expect=200)
    assert wait_for_callbacks(stack, katie, before + 1)[-1]["event"] == "unlinked"
    assert app_call(stack, "GET", "/api/users/katie")["card_status"] == "unlinked"
    page = requests.get(stack.sample_url + "/", timeout=10)
    assert page.status_code == 200 and "unlinked" in page.text
