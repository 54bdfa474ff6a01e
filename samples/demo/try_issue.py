"""Claim a demo e-card through the running API, as the demo ministry channel would.

Run `make run` in one terminal, then `uv run python samples/demo/try_issue.py` in
another. It signs every call with the demo channel's key (instance/demo-channels/),
issues a level-1 e-card for 王秀英 with a live photo that is not her enrolment photo,
fetches the signed credential and verifies it offline against the JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization

HERE = Path(__file__).resolve().parent
BASE = os.environ.get("ECARD_URL", f"http://127.0.0.1:{os.environ.get('ECARD_PORT', '8000')}")
INSTANCE = Path(os.environ.get("ECARD_INSTANCE_DIR", HERE.parents[1] / "instance"))
CHANNEL_NO = "1000000001"
KID = "demo-" + CHANNEL_NO


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
    return requests.request(method, BASE + path, data=data, headers=headers, timeout=30)


def main() -> int:
    live_photo = (HERE / "faces/people/person_04/img2.jpg").read_bytes()
    response = call("POST", "/api/v1/cards", {
        "name": "王秀英", "id_number": "370202195204180243", "card_no": "Q37020201",
        "face_image": base64.b64encode(live_photo).decode(), "pin": "258036",
    })
    print("POST /api/v1/cards ->", response.status_code)
    print(json.dumps(response.json(), ensure_ascii=False, indent=2))
    if response.status_code >= 400:
        return 1
    sign_no = response.json()["sign_no"]
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
