"""Payments test helpers shared by tests/payments, tests/sdk, tests/channel_adapters and
tests/maintenance: the holder's and the merchant's channel numbers, a level-1 e-card
with a PIN built directly, and the steps that reach level 2 (SMS code, enable)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.cards.models import ECard, allocate_status_index
from ecard.cards.services import new_sign_no
from ecard.cards.views import card_service
from ecard.clock import FrozenClock
from ecard.payments import ledger
from ecard.payments.codes import generate_payment_code
from ecard.payments.models import Account
from ecard.payments.sms import CapturingSmsGateway
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN
from tests.support.channel_client import SignedClient
from tests.support.factories import Holder, make_holder, make_id_number

HOLDER_CH = "1000000001"
MERCHANT = "3000000003"
SHOP = "4000000004"  # a bank channel: not an acquirer


@dataclass
class Card:
    sign_no: str
    person_id: int
    ecard_id: int


@dataclass
class Device:
    slot: int
    secret: bytes

    def code(self, clock: FrozenClock) -> str:
        return generate_payment_code(self.secret, self.slot, now=clock.now())


def issue_level1(platform: Platform, channel_no: str, *, seq: int = 1,
                 bank: bool = True, pin: str = GOOD_PIN,
                 bank_code: str | None = "ICBC") -> Card:
    holder = make_holder(platform, id_number=make_id_number("110101", "19550307",
                                                            f"{seq:03d}"),
                         card_no=f"B{seq:08d}",
                         bank_account="6222020200112233445" if bank else None,
                         reserved_phone="13800138000" if bank else None,
                         bank_code=bank_code)
    pins = card_service(platform).pins
    with platform.db.transaction() as session:
        pins.set_initial(session, holder.person_id, pin)
        ecard = insert_level1_ecard(session, platform, holder, channel_no)
        return Card(ecard.sign_no, holder.person_id, ecard.id)


def insert_level1_ecard(session: Session, platform: Platform, holder: Holder,
                        channel_no: str) -> ECard:
    """An active level-1 e-card row for ``holder`` in ``channel_no``, written directly
    (no liveness session): the starting point of payments tests and benchmarks."""
    now = platform.clock.now()
    index = allocate_status_index(session, now)
    ecard = ECard(status_index=index, sign_no=new_sign_no("110101"), person_id=holder.person_id,
                  channel_no=channel_no, card_id=holder.card_id,
                  openid=platform.protector.pseudonym(channel_no, str(holder.person_id)),
                  level=1, status="active", face_score=0.4, issued_at=now,
                  updated_at=now, unlinked_at=None)
    session.add(ecard)
    session.flush()
    return ecard


def last_code(sms: CapturingSmsGateway) -> str:
    match = re.search(r"验证码(\d{6})", sms.messages()[-1].text)
    assert match
    return match.group(1)


def enable(client: SignedClient, sms: CapturingSmsGateway, card: Card,
           device_id: str = "phone-1") -> dict[str, Any]:
    res = client.post(f"/api/v1/cards/{card.sign_no}/payment/sms")
    assert res.status_code == 200, res.get_json()
    res = client.post(f"/api/v1/cards/{card.sign_no}/payment/enable",
                      json={"sms_code": last_code(sms), "device_id": device_id})
    assert res.status_code == 201, res.get_json()
    body: dict[str, Any] = res.get_json()
    return body


def device_of(body: dict[str, Any]) -> Device:
    return Device(body["device_slot"], base64.b64decode(body["device_secret"]))


def balances(platform: Platform) -> dict[str, int]:
    """Every ledger account's balance, by ``kind:owner``."""
    with platform.db.session() as session:
        return {f"{a.kind}:{a.owner}": a.balance_fen for a in session.scalars(select(Account))}


def assert_ledger_invariants(platform: Platform) -> None:
    """Every posting balances, the ledger sums to zero, and only external accounts
    (the outside world) may be below zero."""
    with platform.db.session() as session:
        assert ledger.unbalanced_postings(session) == []
        assert ledger.total_balance(session) == 0
    assert all(b >= 0 for k, b in balances(platform).items() if not k.startswith("external:"))


def clear_of_cst_midnight(clock: FrozenClock) -> None:
    """Statements are per China Standard Time day: a test that pays, waits 30 s and
    reconciles "today" must not straddle midnight CST (16:00 UTC)."""
    from ecard.payments.reconcile import CST
    local = clock.now().astimezone(CST)
    if local.hour == 23 and local.minute >= 50:
        clock.advance(seconds=(60 - local.minute) * 60 + 60)
