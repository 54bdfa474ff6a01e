"""``uv run python -m samples.walkthrough``: what a user does in the sample app, step by
step, against ``make sample`` running in another terminal.

It plays the phone of the sample app (its JSON API on :8001), for the demo holder
周雅琴: claims her e-card (relinks with her PIN if she already has one elsewhere,
otherwise answers a liveness session with the real frames shipped in
``samples/demo/faces/liveness``, chosen for the actions asked), shows an identity code
and has the sample terminal verify it offline then online, enables payment (the demo
SMS code is read from ``instance/sms-outbox.log``), shows a payment code and has the
terminal charge it, then lists the callbacks the app received.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from samples.liveness_frames import Clip
from samples.sample_dir import ROOT, default_dir
from samples.terminal.cli import main as terminal

APP = f"http://127.0.0.1:{os.environ.get('ECARD_SAMPLE_PORT', '8001')}"
INSTANCE = Path(os.environ.get("ECARD_INSTANCE_DIR") or ROOT / "instance")
CLIP = ROOT / "samples/demo/faces/liveness/wda_katiehill"
HOLDER = {"name": "周雅琴", "id_number": "330106195605120420", "card_no": "Z33010601"}
PIN = "258036"  # the PIN samples/demo/try_issue.py sets, so either may go first
USER = "zhou"


def call(method: str, path: str, body: dict[str, Any] | None = None,
         ok: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
    resp = requests.request(method, APP + path, json=body, timeout=60)
    answer: dict[str, Any] = resp.json()
    if resp.status_code not in ok:
        raise RuntimeError(f"{method} {path} -> {resp.status_code} {answer}")
    return answer


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def claim() -> str:
    step("claim the e-card")
    relinked = requests.post(f"{APP}/api/users/{USER}/relink", json={**HOLDER, "pin": PIN},
                             timeout=60)
    if relinked.status_code == 201:
        print("relinked with the PIN she already has:", relinked.json()["event"])
        return str(relinked.json()["sign_no"])
    print("no e-card elsewhere yet (", relinked.json().get("code"), "): face check first")
    clip = Clip(CLIP, reserved={0})  # frame 0 is her enrolment photo
    for _ in range(20):
        session = call("POST", f"/api/users/{USER}/claim/start", HOLDER)
        if clip.can_show(session["actions"]):
            break
    else:
        raise RuntimeError("no session asked for actions the shipped frames show")
    for prompt in session["prompts"]["steps"]:
        print(f"  prompt: {prompt['text']}  ({prompt['action']})")
    t0 = datetime.now(UTC)
    frames = [{"image": base64.b64encode(f).decode(),
               "captured_at": (t0 + timedelta(milliseconds=600 * i)).isoformat()}
              for i, f in enumerate(clip.frames_for(session["actions"]))]
    decision = call("POST", f"/api/users/{USER}/claim/{session['session_id']}/frames",
                    {"frames": frames, "mirrored": False})
    print("  decision:", "passed" if decision["passed"] else decision["reason"],
          "max distance", decision["scores"].get("max_distance"))
    if not decision["passed"]:
        raise RuntimeError(decision.get("message_en") or decision["reason"])
    card = call("POST", f"/api/users/{USER}/claim/{session['session_id']}/issue", {"pin": PIN})
    print("  e-card:", card["event"], card["sign_no"], card["name_masked"], card["id_masked"])
    return str(card["sign_no"])


def save(name: str, png_base64: str) -> Path:
    path = default_dir() / name
    path.write_bytes(base64.b64decode(png_base64))
    print(f"  QR code written to {path}")
    return path


def main() -> int:
    call("POST", "/api/users", {"username": USER}, ok=(201, 409))
    user = call("GET", f"/api/users/{USER}")
    sign_no = user["sign_no"] if user.get("card_status") == "active" else claim()

    step("show an identity code; the terminal scans it (scene 01, query)")
    code = call("POST", f"/api/users/{USER}/identity-code", {})
    image = save("identity.png", code["png_base64"])
    print(f"$ uv run python -m samples.terminal {image} --scene 01")
    terminal([str(image), "--scene", "01"])

    step("enable payment (level 2) and pay 12.50 at the sample hospital")
    if not user.get("payment_device"):
        call("POST", f"/api/users/{USER}/payment/sms", {})
        sms = (INSTANCE / "sms-outbox.log").read_text(encoding="utf-8").splitlines()[-1]
        found = re.search(r"验证码(\d{6})", json.loads(sms)["text"])
        if found is None:
            raise RuntimeError("no SMS code in instance/sms-outbox.log")
        print("  SMS code from the demo gateway:", found.group(1))
        call("POST", f"/api/users/{USER}/payment/enable", {"sms_code": found.group(1)})
    pay = call("POST", f"/api/users/{USER}/payment-code", {})
    image = save("pay.png", pay["png_base64"])
    print(f"$ uv run python -m samples.terminal {image} --amount-fen 1250")
    terminal([str(image), "--amount-fen", "1250"])

    step("callbacks the app received for this e-card (delivered by ecard worker)")
    time.sleep(1.5)
    for c in call("GET", f"/api/callbacks?sign_no={sign_no}")["callbacks"]:
        print(f"  #{c['id']:>4} {c['event']:<18} attempt {c['attempt']}  {c['occurred_at']}")
    print(f"\nall users and callbacks: {APP}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
