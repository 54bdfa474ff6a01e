"""``ecard maintenance purge``: what is past its use goes, in batches, with counts;
what may still decide something (fresh one-time records, pending and dead
notifications, paid orders) stays (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from channel_adapters.models import H5TicketUse
from ecard.audit.models import AuditEntry
from ecard.channels.models import UsedToken
from ecard.cli import main
from ecard.clock import FrozenClock
from ecard.http.models import IdempotencyRecord
from ecard.notifications.models import Notification
from ecard.payments.models import MerchantOrder, SmsChallenge
from ecard.platform import Platform
from ecard.tokens.models import IdentityCode
from tests.cards.helpers import make_channel
from tests.support.payments import HOLDER_CH, issue_level1

OLD, FRESH = "old", "fresh"
TABLES = {"used_tokens": UsedToken, "h5_ticket_uses": H5TicketUse,
          "identity_codes": IdentityCode, "idempotency_records": IdempotencyRecord,
          "notifications": Notification, "merchant_orders": MerchantOrder,
          "sms_challenges": SmsChallenge}


def _seed(platform: Platform, now: datetime) -> None:
    """Per table: three rows to purge and the rows that must stay."""
    make_channel(platform, HOLDER_CH, type="medical")
    cards = [issue_level1(platform, HOLDER_CH, seq=n) for n in range(1, 6)]
    long_ago, day = now - timedelta(days=40), timedelta(days=1)
    with platform.db.transaction() as session:
        for n in range(3):
            session.add(UsedToken(channel_no=HOLDER_CH, jti=f"{OLD}{n}",
                                  expires_at=now - timedelta(seconds=400)))
            session.add(H5TicketUse(channel_no=HOLDER_CH, jti=f"{OLD}{n}", openid="o",
                                    expires_at=long_ago, used_at=long_ago))
            session.add(IdentityCode(jti=f"{OLD}{n}", ecard_id=cards[0].ecard_id,
                                     issued_at=long_ago, expires_at=long_ago))
            session.add(IdempotencyRecord(channel_no=HOLDER_CH, key=f"{OLD}{n}",
                                          request_hash="h", status_code=200,
                                          response_body=b"{}", created_at=now - 2 * day))
            session.add(_note(long_ago, "delivered"))
            session.add(_order(f"{OLD}{n}", long_ago, "open"))
            session.add(_sms(cards[n].ecard_id, now - 2 * day))
        # kept: inside their windows, or not finished work
        session.add(UsedToken(channel_no=HOLDER_CH, jti=FRESH,
                              expires_at=now - timedelta(seconds=100)))
        session.add(H5TicketUse(channel_no=HOLDER_CH, jti=FRESH, openid="o",
                                expires_at=now + timedelta(seconds=60), used_at=now))
        session.add(IdentityCode(jti=FRESH, ecard_id=cards[0].ecard_id, issued_at=now,
                                 expires_at=now + timedelta(seconds=60)))
        session.add(IdempotencyRecord(channel_no=HOLDER_CH, key=FRESH, request_hash="h",
                                      status_code=200, response_body=b"{}", created_at=now))
        session.add_all([_note(now - 5 * day, "delivered"), _note(long_ago, "pending"),
                         _note(long_ago, "dead")])
        session.add_all([_order("paid", long_ago, "paid"), _order(FRESH, now, "open")])
        session.add(_sms(cards[4].ecard_id, now))


def _note(at: datetime, status: str) -> Notification:
    return Notification(channel_no=HOLDER_CH, sign_no=None, event="issued", payload={},
                        status=status, attempts=1, next_attempt_at=at, created_at=at,
                        delivered_at=at if status == "delivered" else None)


def _order(order_id: str, expires: datetime, status: str) -> MerchantOrder:
    return MerchantOrder(token=f"EO1.{order_id}", merchant_no=HOLDER_CH, order_id=order_id,
                         amount_fen=100, currency="CNY", scene="02", status=status,
                         payment_id=None, created_at=expires, expires_at=expires)


def _sms(ecard_id: int, expires: datetime) -> SmsChallenge:
    return SmsChallenge(ecard_id=ecard_id, code_hash="h", salt="s", phone_masked="138****8000",
                        attempts=0, sent_at=expires, expires_at=expires, consumed_at=None)


def _counts(platform: Platform) -> dict[str, int]:
    with platform.db.session() as session:
        return {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in TABLES.items()}


@pytest.fixture
def purge(test_config: dict[str, Any], tmp_path: Path) -> Any:
    env = {"ECARD_DATABASE_URL": test_config["DATABASE_URL"],
           "ECARD_MASTER_KEY": test_config["MASTER_KEY"],
           "ECARD_INSTANCE_DIR": test_config["INSTANCE_DIR"], "ECARD_OPERATOR": "ops",
           "ECARD_REDIS_URL": ""}

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["maintenance", "purge", *args], env=env)
    return run


def test_purge_deletes_only_what_is_past_its_use(platform: Platform, clock: FrozenClock,
                                                 purge: Any) -> None:
    _seed(platform, clock.now())
    before = _counts(platform)
    dry = purge("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "used_tokens" in dry.output and "would delete        3" in dry.output
    assert _counts(platform) == before
    done = purge("--batch", "2")
    assert done.exit_code == 0, (done.output, done.exception)
    assert "notifications: 2 deleted so far" in done.output  # batches of 2: 2, then 3
    assert "notifications: 3 deleted so far" in done.output
    assert f"total{' ' * (len('idempotency_records') - 5)}  deleted       21" in done.output
    after = _counts(platform)
    assert {name: before[name] - after[name] for name in TABLES} == dict.fromkeys(TABLES, 3)
    with platform.db.session() as session:
        left = {name: sorted(str(v) for v in session.scalars(select(col)))
                for name, col in (("used_tokens", UsedToken.jti),
                                  ("idempotency_records", IdempotencyRecord.key),
                                  ("notifications", Notification.status),
                                  ("merchant_orders", MerchantOrder.order_id))}
        audit = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "maintenance.purged")).one()
    assert left == {"used_tokens": [FRESH], "idempotency_records": [FRESH],
                    "notifications": ["dead", "delivered", "pending"],
                    "merchant_orders": [FRESH, "paid"]}
    assert audit.actor_id == "ops" and audit.details["deleted"]["h5_ticket_uses"] == 3
    again = purge()
    assert again.exit_code == 0 and "deleted        0" in again.output


def test_purge_options(platform: Platform, clock: FrozenClock, purge: Any) -> None:
    _seed(platform, clock.now())
    assert purge("--notifications-days", "0").exit_code == 2
    kept = purge("--notifications-days", "60", "--orders-days", "60")
    assert kept.exit_code == 0
    assert _counts(platform)["notifications"] == 6 and _counts(platform)["merchant_orders"] == 5
    short = purge("--notifications-days", "1")
    assert short.exit_code == 0
    assert _counts(platform)["notifications"] == 2  # the 5-day-old one went too
