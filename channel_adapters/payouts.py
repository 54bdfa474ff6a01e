"""Pension payout instructions for one bank and one business day (``ecard payouts
export``).

What goes in. ``payout_positions`` holds what the bank was last told about each
recipient (``paying`` when it was told nothing: the bank pays from the start). The
day's file holds every difference between that and the entitlement on the day
(``ecard.certification.entitlement.status_on``: past ``certified_until`` means
suspended, a recorded death stopped):

* paying → suspended: ``SUSPEND`` from the day after ``certified_until``;
* paying or suspended → stopped: ``STOP`` from the day of death;
* suspended → paying: ``REINSTATE`` from the day, then ``BACKPAY`` of the months the
  recipient was owed since the bank was told to suspend (``backpay_months`` counted
  by certification, less what was settled before) × the monthly pension, in fen;
* a suspension and a reinstatement between two files (the bank never stopped
  paying) settle the back-pay months with no instruction: the bank owes nothing.

The recipient's bank is the bank of their physical card (``physical_cards.bank_code``);
the account is the pension account of the recipients file. A file is made once per
(bank, day): exporting the day again returns the stored bytes and signature (same
batch number), and a day before the bank's latest file cannot be made any more.
Changes seen since the previous file are never lost: a day without a file is caught
up by the next one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from channel_adapters.interfaces import PayoutError
from channel_adapters.models import PayoutBatch, PayoutInstruction, PayoutPosition
from channel_adapters.payoutfile import (
    BANK_CODE_RE,
    PayoutFile,
    PayoutRecord,
    file_name,
    render,
    sign,
)
from ecard.audit.services import Actor, AuditLog
from ecard.certification.models import BenefitRecipient
from ecard.clock import Clock, utc
from ecard.db import Database
from ecard.payments.ledger import insert_ignore
from ecard.protect import DataProtector
from ecard.registry.models import Person, PhysicalCard
from ecard.tokens.services import KeyRing

CST = timezone(timedelta(hours=8), "CST")
FILE_CONTEXT = "payout.file"


@dataclass(frozen=True)
class ExportedBatch:
    bank_code: str
    business_day: date
    batch_no: int
    file_name: str
    data: bytes
    signature: str
    record_count: int
    control_sum_fen: int
    created: bool  # False: the day's file existed and is returned unchanged


class _Taken(Exception):
    """Another export claimed this (bank, day) or batch number first."""


def check_bank_code(bank_code: str) -> str:
    if not isinstance(bank_code, str) or not BANK_CODE_RE.fullmatch(bank_code):
        raise PayoutError("PAYOUT_BANK_INVALID", details={"bank_code": str(bank_code)})
    return bank_code


class PayoutExporter:
    def __init__(self, db: Database, protector: DataProtector, keyring: KeyRing,
                 clock: Clock, actor: Actor) -> None:
        self.db, self.protector, self.keyring = db, protector, keyring
        self.clock, self.actor = clock, actor

    def export(self, bank_code: str, day: date) -> ExportedBatch:
        check_bank_code(bank_code)
        for _ in range(3):
            try:
                with self.db.transaction() as session:
                    return self._export(session, bank_code, day)
            except _Taken:
                continue  # a concurrent export won: read what it wrote
        raise PayoutError("PAYOUT_DAY_CLOSED", details={"bank_code": bank_code,
                                                        "day": day.isoformat()})

    # -- one attempt -------------------------------------------------------------
    def _export(self, session: Session, bank_code: str, day: date) -> ExportedBatch:
        found = session.scalars(select(PayoutBatch).where(
            PayoutBatch.bank_code == bank_code, PayoutBatch.business_day == day)).one_or_none()
        if found is not None:
            return self._stored(found)
        now = self.clock.now()
        if day > now.astimezone(CST).date():
            raise PayoutError("PAYOUT_DAY_IN_FUTURE", details={"day": day.isoformat()})
        later = session.scalars(select(func.max(PayoutBatch.business_day)).where(
            PayoutBatch.bank_code == bank_code)).one()
        if later is not None and later > day:
            raise PayoutError("PAYOUT_DAY_CLOSED", details={
                "day": day.isoformat(), "latest": later.isoformat()})
        batch_no = int(session.scalars(select(func.coalesce(func.max(PayoutBatch.batch_no), 0))
                                       .where(PayoutBatch.bank_code == bank_code)).one()) + 1
        name = file_name(bank_code, day, batch_no)
        if not insert_ignore(session, PayoutBatch, {
                "bank_code": bank_code, "business_day": day, "batch_no": batch_no,
                "file_name": name, "record_count": 0, "control_sum_fen": 0,
                "file_sha256": "", "file_enc": b"", "signature": "", "created_at": now}):
            raise _Taken
        batch = session.scalars(select(PayoutBatch).where(
            PayoutBatch.bank_code == bank_code, PayoutBatch.business_day == day)).one()
        records = self._instructions(session, batch, bank_code, day, now)
        payout = PayoutFile(bank_code, day, batch_no, now.astimezone(CST).strftime("%Y%m%d%H%M%S"),
                            tuple(records))
        data = render(payout)
        signature = sign(self.keyring, payout, data, int(now.timestamp()))
        batch.record_count, batch.control_sum_fen = payout.record_count, payout.control_sum_fen
        batch.file_sha256 = hashlib.sha256(data).hexdigest()
        batch.file_enc = self.protector.encrypt(data, FILE_CONTEXT)
        batch.signature = signature
        session.flush()
        AuditLog(session, self.clock).record(
            self.actor, "payout.batch_exported", subject=f"payout:{bank_code}:{batch_no}",
            details={"bank_code": bank_code, "day": day.isoformat(), "batch_no": batch_no,
                     "records": payout.record_count,
                     "control_sum_fen": payout.control_sum_fen,
                     "file_sha256": batch.file_sha256})
        return ExportedBatch(bank_code, day, batch_no, name, data, signature,
                             payout.record_count, payout.control_sum_fen, True)

    def _stored(self, batch: PayoutBatch) -> ExportedBatch:
        data = self.protector.decrypt(batch.file_enc, FILE_CONTEXT)
        if hashlib.sha256(data).hexdigest() != batch.file_sha256:
            raise RuntimeError(f"stored payout file {batch.file_name} does not match its hash")
        return ExportedBatch(batch.bank_code, batch.business_day, batch.batch_no,
                             batch.file_name, data, batch.signature, batch.record_count,
                             batch.control_sum_fen, False)

    def _instructions(self, session: Session, batch: PayoutBatch, bank_code: str, day: date,
                      now: datetime) -> list[PayoutRecord]:
        r, pos = BenefitRecipient, PayoutPosition
        lapsed = or_(r.status == "stopped", r.certified_until < day)
        of_bank = exists().where(PhysicalCard.person_id == r.person_id,
                                 PhysicalCard.bank_code == bank_code)
        rows = session.execute(
            select(r, pos, Person.name_enc).join(Person, Person.id == r.person_id)
            .outerjoin(pos, pos.recipient_id == r.id)
            .where(of_bank, or_(
                and_(pos.recipient_id.is_(None), lapsed),
                and_(pos.status == "paying",
                     or_(lapsed, r.backpay_months > pos.backpay_months_seen)),
                and_(pos.status == "suspended",
                     or_(r.status == "stopped", r.certified_until >= day))))
            .order_by(r.id)).all()
        records: list[PayoutRecord] = []
        for recipient, position, name_enc in rows:
            current = position.status if position is not None else "paying"
            seen = position.backpay_months_seen if position is not None \
                else recipient.backpay_months
            target = ("stopped" if recipient.status == "stopped" else
                      "suspended" if recipient.certified_until < day else "paying")
            kinds: list[tuple[str, date, int, int]] = []
            if target == "stopped" and current != "stopped":
                kinds.append(("STOP", recipient.died_on or day, 0, 0))
            elif target == "suspended" and current == "paying":
                kinds.append(("SUSPEND", recipient.certified_until + timedelta(days=1), 0, 0))
            elif target == "paying" and current == "suspended":
                certified = recipient.last_certified_at
                kinds.append(("REINSTATE", utc(certified).astimezone(CST).date()
                              if certified is not None else day, 0, 0))
                owed = recipient.backpay_months - seen
                if owed > 0:
                    kinds.append(("BACKPAY", day, owed, owed * recipient.monthly_pension_fen))
            if kinds:
                account = self.protector.decrypt_str(recipient.bank_account_enc,
                                                     "recipient.bank_account")
                name = self.protector.decrypt_str(name_enc, "person.name")
                for kind, effective, months, amount in kinds:
                    seq = len(records) + 1
                    records.append(PayoutRecord(seq, kind, str(recipient.id), account, name,
                                                effective, months, amount))
                    session.add(PayoutInstruction(
                        batch_id=batch.id, seq=seq, recipient_id=recipient.id, kind=kind,
                        effective_on=effective, months=months, amount_fen=amount))
            self._move(session, position, recipient, bank_code, batch.id,
                       target if current != "stopped" else "stopped",
                       max(seen, recipient.backpay_months), now)
        return records

    @staticmethod
    def _move(session: Session, position: PayoutPosition | None, recipient: BenefitRecipient,
              bank_code: str, batch_id: int, status: str, seen: int, now: datetime) -> None:
        if position is None:
            session.add(PayoutPosition(recipient_id=recipient.id, bank_code=bank_code,
                                       status=status, backpay_months_seen=seen,
                                       last_batch_id=batch_id, updated_at=now))
            return
        position.bank_code, position.status = bank_code, status
        position.backpay_months_seen, position.last_batch_id = seen, batch_id
        position.updated_at = now
