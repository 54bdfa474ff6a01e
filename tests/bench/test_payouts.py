"""``payout_export_records_per_s``: one bank's payout file from N lapsed recipients.

N recipients (holders of a card at one bank, certification lapsed) are written in
bulk; ``PayoutExporter.export`` then selects them against the (empty) positions,
decrypts each account and name, writes the instructions and positions, renders and
signs the file, in one transaction on SQLite. Also reported in the same run: the
bank-side reader over that file (``payout_read_records_per_s``, format, digest and
signature) and the settlement split (``medical_settle_per_s``, pure integer work).
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from channel_adapters.hospital import MedicalPolicy, settle
from channel_adapters.payoutfile import read_payout_file
from channel_adapters.payouts import CST, PayoutExporter
from ecard import create_app
from ecard.audit.services import Actor
from ecard.certification.models import BenefitRecipient
from ecard.clock import SystemClock
from ecard.migrations import upgrade
from ecard.platform import Platform
from ecard.protect import generate_master_key
from ecard.registry.models import Person, PhysicalCard
from ecard.tokens.services import create_signing_key

N = int(os.environ.get("ECARD_BENCH_PAYOUTS", "5000"))


@pytest.mark.bench
def test_payout_export_records_per_s(tmp_path: Path) -> None:
    from tests.bench.conftest import merge_results
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": generate_master_key(),
                      "INSTANCE_DIR": str(tmp_path / "instance")}, clock=SystemClock())
    platform: Platform = app.extensions["ecard"]
    p, now = platform.protector, platform.clock.now()
    day = now.astimezone(CST).date()
    with platform.db.transaction() as session:
        create_signing_key(session, p, platform.clock, Actor.system())
        for i in range(N):
            person = Person(id_index=f"bench{i}", id_number_enc=b"x", id_masked="x",
                            name_enc=p.encrypt_str(f"测试{i}", "person.name"), name_masked="*",
                            gender="1", birth_date=date(1950, 1, 1), region="110101",
                            row_hash="b", created_at=now, updated_at=now)
            session.add(person)
            session.flush()
            session.add(PhysicalCard(card_no=f"Q{i:08d}", person_id=person.id, region="110101",
                                     generation=3, bank_code="ICBC", status="active",
                                     updated_at=now))
            session.add(BenefitRecipient(
                person_id=person.id, type="resident", monthly_pension_fen=300000,
                funeral_grant_fen=0, survivor_lump_sum_fen=0, region="110101",
                bank_account_enc=p.encrypt_str(f"62220202{i:011d}", "recipient.bank_account"),
                period_months=12, certified_until=day - timedelta(days=30), status="suspended",
                backpay_due=False, backpay_months=0, last_certified_at=None, died_on=None,
                row_hash="b", created_at=now, updated_at=now))
    exporter = PayoutExporter(platform.db, p, platform.keyring, platform.clock,
                              Actor.system())
    start = time.perf_counter()
    batch = exporter.export("ICBC", day)
    export_s = time.perf_counter() - start
    assert batch.record_count == N
    start = time.perf_counter()
    read = read_payout_file(batch.data, batch.signature, jwks=platform.keyring.jwks(),
                            bank_code="ICBC")
    read_s = time.perf_counter() - start
    assert read.record_count == N
    policy = MedicalPolicy(region="110101", ratio_bp=8500, deductible_remaining_fen=130000,
                           cap_remaining_fen=2_000_000)
    start = time.perf_counter()
    for i in range(20000):
        settle(scene="02", total_fen=1000 + i * 37, self_funded_fen=i % 500,
               class_b_self_fen=i % 300, account_balance_fen=50000, policy=policy)
    settle_rate = 20000 / (time.perf_counter() - start)
    values = {"payout_export_records_per_s": round(N / export_s, 1),
              "payout_read_records_per_s": round(N / read_s, 1),
              "medical_settle_per_s": round(settle_rate, 1)}
    print(f"\n{values} ({N} records, file {len(batch.data)} bytes)")
    merge_results(values)
    platform.db.dispose()
