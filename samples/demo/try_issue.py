"""Claim a demo e-card through the running API, as the demo ministry channel would.

Run `make run` in one terminal, then `uv run python samples/demo/try_issue.py` in
another. It signs every call with the demo channel's key (instance/demo-channels/) and
claims a level-1 e-card for the demo holder 周雅琴, whose enrolment photo is frame 0 of a
real clip (samples/demo/faces/liveness/wda_katiehill):

1. POST /cards without a face check: a holder who already has the e-card in this
   channel gets it back ("already_issued"); anyone else is told
   CERTIFICATION_SESSION_REQUIRED (do the face check first);
2. POST /certification/sessions (purpose issuance, name + ID + card number): the server
   draws 1-3 random actions (blink, open mouth, turn left, turn right) and a deadline;
3. the frames: a phone would film the holder following the spoken prompts; here the
   script picks, from the 8 shipped frames of the clip, by their labels (labels.csv),
   one frame that shows each asked action, with a neutral frame before and after each;
4. POST /certification/sessions/{id}/frames: pass or fail, with the reason and scores;
5. POST /cards with the passed session's id as certification_session_id and a new PIN;
6. the e-card's signed credential, verified offline against the JWKS.

A frame is accepted once per person (replays are refused), so on a fresh instance
(`ecard init` + `ecard demo load`) step 2-5 run once; later runs stop at step 1.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization

HERE = Path(__file__).resolve().parent
CLIP = HERE / "faces" / "liveness" / "wda_katiehill"
BASE = os.environ.get("ECARD_URL", f"http://127.0.0.1:{os.environ.get('ECARD_PORT', '8000')}")
INSTANCE = Path(os.environ.get("ECARD_INSTANCE_DIR", HERE.parents[1] / "instance"))
CHANNEL_NO = "1000000001"
KID = "demo-" + CHANNEL_NO
HOLDER = {"name": "周雅琴", "id_number": "330106195605120420", "card_no": "Z33010601"}
NEW_PIN = "258036"
ENROLMENT_FRAME = 0  # enrolled in the registry: never sent in a session

# What each action looks like in the clip's labels (shared/faces/README.md: actions are
# named from the subject's side; the frames are unmirrored camera frames).
SHOWS = {
    "blink": lambda r: r["eye_state"] == "closed",
    "open_mouth": lambda r: r["mouth_state"] == "open" and r["eye_state"] == "open",
    "turn_left": lambda r: r["head_pose"] == "turned_image_right(subject_left)",
    "turn_right": lambda r: r["head_pose"] == "turned_image_left(subject_right)",
}


def neutral(row: dict[str, str]) -> bool:
    return (row["eye_state"] == "open" and row["mouth_state"] != "open"
            and row["head_pose"] == "frontal")


def call(method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    key = serialization.load_pem_private_key(
        (INSTANCE / "demo-channels" / f"{CHANNEL_NO}.pem").read_bytes(), password=None)
    data = b"" if body is None else json.dumps(body).encode()
    now = int(time.time())
    token = jwt.encode({
        "iss": CHANNEL_NO, "aud": "ecard-api", "iat": now, "exp": now + 60,
        "jti": secrets.token_urlsafe(16), "htm": method, "htu": path,
        "bh": base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(),
    }, key, algorithm="ES256", headers={"kid": KID, "typ": "ecard-channel+jwt"})  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept-Language": "en", "Idempotency-Key": secrets.token_hex(16)}
    return requests.request(method, BASE + path, data=data, headers=headers, timeout=60)


def show(title: str, response: requests.Response) -> dict[str, Any]:
    print(f"{title} -> {response.status_code}")
    body: dict[str, Any] = response.json()
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return body


def pick_frames(actions: list[str]) -> list[int]:
    """A neutral frame, then per action a frame showing it and a neutral frame."""
    with (CLIP / "labels.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["frame"]) != ENROLMENT_FRAME]
    neutrals = [int(r["frame"]) for r in rows if neutral(r)]
    picked = [neutrals[0]]
    for n, action in enumerate(actions, start=1):
        showing = [int(r["frame"]) for r in rows if SHOWS[action](r)]
        if not showing:
            raise SystemExit(f"no shipped frame shows {action}")
        picked += [showing[0], neutrals[n % len(neutrals)]]
    return picked


def upload(frames: list[int]) -> dict[str, Any]:
    t0 = datetime.now(UTC)
    return {"mirrored": False, "frames": [
        {"image": base64.b64encode((CLIP / "frames" / f"frame_{i:05d}.jpg").read_bytes()
                                   ).decode(),
         "captured_at": (t0 + timedelta(milliseconds=600 * k)).isoformat()}
        for k, i in enumerate(frames)]}


def claim() -> dict[str, Any] | None:
    first = call("POST", "/api/v1/cards", {**HOLDER, "pin": NEW_PIN})
    if first.status_code == 200:
        return show("POST /api/v1/cards (already holds it)", first)
    body = first.json()
    print(f"POST /api/v1/cards without a face check -> {first.status_code} {body['code']}: "
          f"{body['message']}")
    if body["code"] != "CERTIFICATION_SESSION_REQUIRED":
        return None
    started = call("POST", "/api/v1/certification/sessions",
                   {**HOLDER, "purpose": "issuance", "mode": "standard"})
    session = show("POST /api/v1/certification/sessions", started)
    if started.status_code != 201:
        return None
    for step in session["prompts"]["steps"]:
        print(f"  prompt: {step['text']}  ({step['action']})")
    frames = pick_frames(session["actions"])
    print("sending frames", frames, "for actions", session["actions"])
    decided = call("POST", f"/api/v1/certification/sessions/{session['session_id']}/frames",
                   upload(frames))
    decision = decided.json()
    print(f"POST .../frames -> {decided.status_code} passed={decision.get('passed')} "
          f"reason={decision.get('reason')} "
          f"max_distance={decision.get('scores', {}).get('max_distance')}")
    if not decision.get("passed"):
        print(json.dumps(decision, ensure_ascii=False, indent=2))
        return None
    issued = call("POST", "/api/v1/cards", {**HOLDER, "pin": NEW_PIN,
                                            "certification_session_id": session["session_id"]})
    card = show("POST /api/v1/cards", issued)
    return card if issued.status_code < 400 else None


def main() -> int:
    card = claim()
    if card is None:
        return 1
    sign_no = card["sign_no"]
    credential = call("GET", f"/api/v1/cards/{sign_no}/credential").json()["credential"]
    jwks = requests.get(BASE + "/.well-known/jwks.json", timeout=10).json()
    kid = jwt.get_unverified_header(credential)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(credential, jwt.PyJWK(jwk).key, algorithms=["ES256"],
                        audience=CHANNEL_NO)
    print("credential verified offline with kid", kid, "->",
          json.dumps(claims, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
