"""Sending one-time SMS codes to the bank-reserved phone.

``SmsGateway`` is the boundary; production plugs a carrier or an SMS platform in.
The card's ``bank_code`` comes with every message: a gateway through the banks
(``channel_adapters.bank.BankSmsGateway``) sends through that bank, never another.
``LogFileSmsGateway`` (demo, development) writes the message to the log with the
phone masked and appends it, with the phone masked too, to
``instance/sms-outbox.log`` so a tester can read the code. ``CapturingSmsGateway``
keeps messages in memory for tests. Both pass the same conformance test.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from ecard.protect import mask_phone

log = logging.getLogger("ecard.sms")
OUTBOX_FILE = "sms-outbox.log"


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    sent_at: datetime
    bank_code: str | None = None


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, phone: str, text: str, *, sent_at: datetime,
             bank_code: str | None = None) -> None:
        """Hand the message to the carrier (or to the card's bank, ``bank_code``);
        raise on a refusal (nothing is kept)."""


class LogFileSmsGateway:
    """Writes each message to the log and to ``<instance>/sms-outbox.log`` (one JSON
    line each, phone masked): the demo has no carrier."""

    def __init__(self, instance_dir: Path) -> None:
        self.path = Path(instance_dir) / OUTBOX_FILE

    def send(self, phone: str, text: str, *, sent_at: datetime,
             bank_code: str | None = None) -> None:
        masked = mask_phone(phone)
        log.info("sms to %s (bank %s): %s", masked, bank_code, text)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": sent_at.isoformat(), "to": masked, "text": text,
                           "bank": bank_code}, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # several workers append to one file
            fh.write(line + "\n")

    def messages(self) -> list[SmsMessage]:
        """What was sent (phones masked), oldest first."""
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            item = json.loads(raw)
            out.append(SmsMessage(item["to"], item["text"],
                                  datetime.fromisoformat(item["at"]), item.get("bank")))
        return out


class CapturingSmsGateway:
    """The test twin: keeps every message in memory (phones in clear, for asserts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[SmsMessage] = []

    def send(self, phone: str, text: str, *, sent_at: datetime,
             bank_code: str | None = None) -> None:
        with self._lock:
            self.sent.append(SmsMessage(phone, text, sent_at, bank_code))

    def messages(self) -> list[SmsMessage]:
        with self._lock:
            return list(self.sent)
