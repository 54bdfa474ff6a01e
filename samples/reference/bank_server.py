"""A reference bank: the far side of the bank protocol (``channel_adapters/bank.py``).

    python samples/reference/bank_server.py --bank-code ICBC --jwks jwks.json [--port 0]

``POST /sms/send`` sends (here: records) a code to the reserved phone;
``POST /payout-files`` receives a pension payout file and validates it with the
bank-side reader (format, count, control sum, digest, signature). Every request must
carry a platform-signed ``Ecard-Signature`` for this bank and an ``Idempotency-Key``:
a retry with the same key and body answers the stored result, the same key with
another body is refused (422). ``GET /received`` shows what was accepted (tests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run by path from a checkout

from channel_adapters.interfaces import PayoutFileInvalid
from channel_adapters.payoutfile import read_payout_file
from channel_adapters.signing import (
    SIGNATURE_HEADER,
    InvalidSignature,
    verify_request,
)
from samples.reference.common import ReceivingHandler, State, base_args, serve


class BankState(State):
    def __init__(self, fail_first: int, bank_code: str, jwks: dict[str, Any]) -> None:
        super().__init__(fail_first)
        self.bank_code, self.jwks = bank_code, jwks
        self.seen_jti: set[str] = set()
        self.idempotency: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self.received = {"sms": [], "payout_files": []}
        self.key_locks: dict[str, threading.Lock] = {}

    def first_use(self, jti: str, _exp: int) -> bool:
        with self.lock:
            if jti in self.seen_jti:
                return False
            self.seen_jti.add(jti)
            return True


STATE: BankState


class Handler(ReceivingHandler):
    def do_POST(self) -> None:
        routes = {"/sms/send": self.sms, "/payout-files": self.payout_file}
        route = routes.get(self.path)
        body = self.admitted_body(route is not None)
        if route is None or body is None:
            return
        try:
            verify_request(token=self.headers.get(SIGNATURE_HEADER, ""), method="POST",
                           path=self.path, body=body, jwks=STATE.jwks,
                           audience=STATE.bank_code, now_s=int(time.time()),
                           first_use=STATE.first_use)
        except InvalidSignature:
            self.answer(401, {"code": "SIGNATURE_INVALID"})
            return
        key = self.headers.get("Idempotency-Key", "")
        if not key:
            self.answer(400, {"code": "IDEMPOTENCY_KEY_MISSING"})
            return
        digest = hashlib.sha256(body).hexdigest()
        with STATE.lock:
            lock = STATE.key_locks.setdefault(key, threading.Lock())
        with lock:  # one request per key at a time; the stored answer for the rest
            stored = STATE.idempotency.get(key)
            if stored is not None:
                if stored[0] != digest:
                    self.answer(422, {"code": "IDEMPOTENCY_KEY_REUSED"})
                else:
                    self.answer(stored[1], stored[2], {"Idempotent-Replayed": "true"})
                return
            try:
                document = json.loads(body)
                status, answer = route(document)
            except (ValueError, KeyError, TypeError):
                status, answer = 400, {"code": "BAD_REQUEST"}
            STATE.idempotency[key] = (digest, status, answer)
        self.answer(status, answer)

    def sms(self, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        phone, message = str(document["phone"]), str(document["message"])
        if not (len(phone) == 11 and phone.isdigit()) or not message:
            return 422, {"code": "PHONE_INVALID"}
        message_id = uuid.uuid4().hex
        with STATE.lock:
            STATE.received["sms"].append({"message_id": message_id, "phone": phone,
                                          "message": message})
        return 200, {"accepted": True, "message_id": message_id,
                     "phone_masked": phone[:3] + "****" + phone[-4:]}

    def payout_file(self, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = str(document["name"])
        try:
            data = base64.b64decode(document["file_b64"], validate=True)
        except binascii.Error:
            return 400, {"code": "BAD_REQUEST"}
        try:
            payout = read_payout_file(data, str(document["signature"]), jwks=STATE.jwks,
                                      bank_code=STATE.bank_code, name=name)
        except PayoutFileInvalid as exc:
            return 422, {"accepted": False, "code": "PAYOUT_FILE_INVALID", "reason": str(exc)}
        summary = {"name": name, "batch_no": payout.batch_no, "records": payout.record_count,
                   "control_sum_fen": payout.control_sum_fen,
                   "kinds": [r.kind for r in payout.records]}
        with STATE.lock:
            STATE.received["payout_files"].append(summary)
        return 200, {"accepted": True, **summary}


def main() -> None:
    global STATE
    parser = base_args("A reference bank for the ecard bank protocol.")
    parser.add_argument("--bank-code", required=True)
    args = parser.parse_args()
    STATE = BankState(args.fail_first, args.bank_code,
                      json.loads(Path(args.jwks).read_text()))
    Handler.state = STATE
    serve(Handler, args.host, args.port)


if __name__ == "__main__":
    main()
