"""A reference payment platform: receives the platform's signed notifications.

    python samples/reference/payment_platform_server.py --channel-no 2000000002 \
        --jwks jwks.json [--port 0] [--fail-first N]

``POST /notify`` checks ``Ecard-Signature`` with the platform's JWKS (signature,
audience = our channel number, time window, body hash, one-time ``jti``:
``ecard.notifications.signing.verify_callback_signature``), processes each
notification id once (delivery is at least once) and answers 200; a bad signature
is 401. ``GET /received`` lists the notifications processed, in arrival order.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run by path from a checkout

from ecard.notifications.interfaces import InvalidCallback
from ecard.notifications.signing import (
    SIGNATURE_HEADER,
    MemoryReplayGuard,
    verify_callback_signature,
)
from samples.reference.common import ReceivingHandler, State, base_args, serve


class PlatformState(State):
    def __init__(self, fail_first: int, channel_no: str, jwks: dict[str, Any]) -> None:
        super().__init__(fail_first)
        self.channel_no, self.jwks = channel_no, jwks
        self.guard = MemoryReplayGuard()
        self.ids: set[str] = set()
        self.received = {"notices": [], "duplicates": []}


STATE: PlatformState


class Handler(ReceivingHandler):
    def do_POST(self) -> None:
        body = self.admitted_body(self.path == "/notify")
        if body is None:
            return
        try:
            document = verify_callback_signature(
                body, self.headers.get(SIGNATURE_HEADER, ""), jwks=STATE.jwks,
                channel_no=STATE.channel_no, now_s=int(time.time()), replay_guard=STATE.guard)
        except InvalidCallback:
            self.answer(401, {"code": "SIGNATURE_INVALID"})
            return
        with STATE.lock:
            if document["id"] in STATE.ids:
                STATE.received["duplicates"].append(document["id"])
            else:
                STATE.ids.add(document["id"])
                STATE.received["notices"].append(document)
        self.answer(200, {"ok": True})


def main() -> None:
    global STATE
    parser = base_args("A reference payment platform receiving ecard notifications.")
    parser.add_argument("--channel-no", required=True)
    args = parser.parse_args()
    STATE = PlatformState(args.fail_first, args.channel_no,
                          json.loads(Path(args.jwks).read_text()))
    Handler.state = STATE
    serve(Handler, args.host, args.port)


if __name__ == "__main__":
    main()
