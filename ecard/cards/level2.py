"""Level 2 (开通缴费结算): link the card's bank account, enrol the holder's device.

1. ``request_sms``: the holder's channel asks for a one-time code; it goes to the
   bank-reserved phone of the physical card. Six digits, kept only as an HMAC (per
   challenge salt), valid 5 minutes, 5 attempts, one active code per e-card (a
   resend replaces it), resend at most once a minute.
2. ``confirm``: the right code raises the e-card to level 2 (``payment_enabled``),
   opens the holder's ledger account (funded by the bank adapter on first link) and
   enrols the device: a fresh 32-byte secret, answered once, stored encrypted
   (context ``device.secret``), and a device slot (the 9 digits in its payment
   codes). Enrolling the same device id again retires the old secret and slot.

Every check runs before the first write, except a wrong code, whose count is kept
(``keeps_writes``) like a wrong PIN's.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.models import ECard
from ecard.clock import Clock, utc
from ecard.notifications.services import enqueue_notification
from ecard.payments import ledger
from ecard.payments.codes import SLOT_DIGITS, STEP_S, new_device_secret
from ecard.payments.interfaces import LEVEL_2, BankDebitAdapter, Enrolment, PaymentError, SmsSent
from ecard.payments.models import Account, PaymentDevice, SmsChallenge
from ecard.payments.sms import SmsGateway
from ecard.protect import DataProtector, mask_phone
from ecard.registry.models import PhysicalCard

SMS_CODE_DIGITS = 6
SMS_TTL_S = 300
SMS_MAX_ATTEMPTS = 5
SMS_RESEND_S = 60
DEVICE_SECRET_CONTEXT = "device.secret"  # noqa: S105  (an encryption context)
SCENE = "level2"
_REFUSED_STATUS = {"suspended": "ECARD_SUSPENDED", "revoked": "ECARD_REVOKED",
                   "unlinked": "ECARD_NOT_ACTIVE"}


def usable_ecard(session: Session, channel_no: str, sign_no: str, *,
                 for_update: bool = False, min_level: int = 1) -> ECard:
    """This channel's active e-card (another channel's sign number is unknown here)."""
    stmt = select(ECard).where(ECard.sign_no == sign_no, ECard.channel_no == channel_no)
    if for_update:
        stmt = stmt.with_for_update()
    ecard = session.scalars(stmt).one_or_none()
    if ecard is None:
        raise PaymentError("ECARD_NOT_FOUND")
    if ecard.status != "active":
        raise PaymentError(_REFUSED_STATUS.get(ecard.status, "ECARD_NOT_ACTIVE"),
                           details={"status": ecard.status})
    if ecard.level < min_level:
        raise PaymentError("ECARD_LEVEL_INSUFFICIENT", details={"level": ecard.level})
    return ecard


def notify(session: Session, clock: Clock, ecard: ECard, event: str,
           extra: dict[str, Any] | None = None) -> None:
    enqueue_notification(session, clock, ecard.channel_no, ecard.sign_no, event, {
        "sign_no": ecard.sign_no, "openid": ecard.openid, "level": ecard.level,
        "status": ecard.status, "occurred_at": clock.now().isoformat(), **(extra or {})})


class Level2Service:
    def __init__(self, *, protector: DataProtector, clock: Clock, sms: SmsGateway,
                 bank: BankDebitAdapter) -> None:
        self.protector = protector
        self.clock = clock
        self.sms = sms
        self.bank = bank

    def _hash(self, salt: str, code: str) -> str:
        return self.protector.blind_index(f"{salt}:{code}", purpose="sms_code")

    def _bank_link(self, session: Session, ecard: ECard) -> tuple[PhysicalCard, str, str]:
        card = session.get_one(PhysicalCard, ecard.card_id)
        if card.bank_account_enc is None or card.reserved_phone_enc is None:
            raise PaymentError("NO_BANK_ACCOUNT")
        account = self.protector.decrypt_str(card.bank_account_enc, "card.bank_account")
        phone = self.protector.decrypt_str(card.reserved_phone_enc, "card.reserved_phone")
        return card, account, phone

    # -- step 1 --------------------------------------------------------------
    def request_sms(self, session: Session, channel_no: str, sign_no: str) -> SmsSent:
        ecard = usable_ecard(session, channel_no, sign_no)
        card, _, phone = self._bank_link(session, ecard)
        now = self.clock.now()
        code = f"{secrets.randbelow(10**SMS_CODE_DIGITS):0{SMS_CODE_DIGITS}d}"
        salt = secrets.token_hex(16)
        values = {"code_hash": self._hash(salt, code), "salt": salt,
                  "phone_masked": mask_phone(phone), "attempts": 0, "sent_at": now,
                  "expires_at": now + timedelta(seconds=SMS_TTL_S), "consumed_at": None}
        # One atomic statement decides the throttle: replace the code only when the
        # last one is at least a minute old; a first code is an insert that a racing
        # request's insert cannot duplicate (primary key on ecard_id).
        replaced = session.execute(
            update(SmsChallenge).where(
                SmsChallenge.ecard_id == ecard.id,
                SmsChallenge.sent_at <= now - timedelta(seconds=SMS_RESEND_S))
            .values(**values).execution_options(synchronize_session=False))
        if getattr(replaced, "rowcount", 0) != 1 and not ledger.insert_ignore(
                session, SmsChallenge, {"ecard_id": ecard.id, **values}):
            last = session.scalars(select(SmsChallenge.sent_at)
                                   .where(SmsChallenge.ecard_id == ecard.id)).one()
            wait = SMS_RESEND_S - int((now - utc(last)).total_seconds())
            raise PaymentError("SMS_RESEND_TOO_SOON",
                               details={"retry_after_s": max(wait, 1)})
        AuditLog(session, self.clock).record(
            Actor("channel", channel_no), "level2.sms_sent", subject=f"person:{ecard.person_id}",
            channel_no=channel_no, scene=SCENE,
            details={"sign_no": sign_no, "phone": mask_phone(phone)})
        self.sms.send(phone, f"【电子社保卡】验证码{code}，{SMS_TTL_S // 60}分钟内有效，"
                             "用于开通缴费结算，请勿告诉他人。", sent_at=now,
                      bank_code=card.bank_code)  # the card's own bank sends it
        return SmsSent(sign_no=sign_no, phone_masked=mask_phone(phone),
                       expires_at=values["expires_at"],  # type: ignore[arg-type]
                       resend_after_s=SMS_RESEND_S)

    # -- step 2 --------------------------------------------------------------
    def confirm(self, session: Session, channel_no: str, sign_no: str, sms_code: str,
                device_id: str) -> Enrolment:
        ecard = usable_ecard(session, channel_no, sign_no, for_update=True)
        card, bank_account, _ = self._bank_link(session, ecard)
        self._check_code(session, channel_no, ecard, sms_code)
        now = self.clock.now()
        actor = Actor("channel", channel_no)
        holder_account, created = self._holder_account(session, ecard.person_id, now)
        if created:
            funds = self.bank.available_fen(card.bank_code, bank_account)
            if funds > 0:
                bank = ledger.account_id(session, "external", ledger.EXTERNAL_BANK, now)
                ledger.post(session, "funding", f"person:{ecard.person_id}",
                            [ledger.Leg(bank, -funds), ledger.Leg(holder_account, funds)], now)
        retired = list(session.scalars(
            select(PaymentDevice.slot).where(PaymentDevice.ecard_id == ecard.id,
                                             PaymentDevice.device_id == device_id,
                                             PaymentDevice.status == "active")))
        session.execute(
            update(PaymentDevice).where(PaymentDevice.ecard_id == ecard.id,
                                        PaymentDevice.device_id == device_id,
                                        PaymentDevice.status == "active")
            .values(status="retired", retired_at=now)
            .execution_options(synchronize_session=False))
        secret = new_device_secret()
        slot = self._free_slot(session)
        session.add(PaymentDevice(
            ecard_id=ecard.id, device_id=device_id, slot=slot,
            secret_enc=self.protector.encrypt(secret, DEVICE_SECRET_CONTEXT), status="active",
            last_step=None, enrolled_at=now, retired_at=None))
        enabled = ecard.level < LEVEL_2
        if enabled:
            ecard.level, ecard.updated_at = LEVEL_2, now
        session.flush()
        audit = AuditLog(session, self.clock)
        subject = f"person:{ecard.person_id}"
        if enabled:
            audit.record(actor, "level2.enabled", subject=subject, channel_no=channel_no,
                         scene=SCENE, details={"sign_no": sign_no, "verified_by": "sms"})
        audit.record(actor, "device.enrolled", subject=subject, channel_no=channel_no,
                     scene=SCENE, details={"sign_no": sign_no, "device_slot": slot,
                                           "retired_slots": retired})
        notify(session, self.clock, ecard, "verified_by_sms")
        if enabled:
            notify(session, self.clock, ecard, "payment_enabled")
        return Enrolment(sign_no=sign_no, level=ecard.level, device_id=device_id,
                         device_slot=slot, secret=secret, retired_slots=retired,
                         payment_enabled=enabled,
                         account_balance_fen=ledger.balance(session, holder_account))

    def _check_code(self, session: Session, channel_no: str, ecard: ECard, code: str) -> None:
        challenge = session.scalars(
            select(SmsChallenge).where(SmsChallenge.ecard_id == ecard.id).with_for_update()
        ).one_or_none()
        if challenge is None or challenge.consumed_at is not None:
            raise PaymentError("SMS_CODE_NOT_SENT")
        now = self.clock.now()
        if now >= utc(challenge.expires_at):
            raise PaymentError("SMS_CODE_EXPIRED")
        if challenge.attempts >= SMS_MAX_ATTEMPTS:
            raise PaymentError("SMS_CODE_ATTEMPTS_EXCEEDED")
        given = code.encode() if code.isascii() else b""
        expected = self._hash(challenge.salt, code).encode() if given else b"-"
        if given and hmac.compare_digest(expected, challenge.code_hash.encode()):
            done = session.execute(
                update(SmsChallenge).where(SmsChallenge.ecard_id == ecard.id,
                                           SmsChallenge.consumed_at.is_(None))
                .values(consumed_at=now).execution_options(synchronize_session=False))
            if getattr(done, "rowcount", 0) != 1:
                raise PaymentError("SMS_CODE_NOT_SENT")
            return
        session.execute(
            update(SmsChallenge).where(SmsChallenge.ecard_id == ecard.id)
            .values(attempts=SmsChallenge.attempts + 1)
            .execution_options(synchronize_session=False))
        attempts: int = session.scalars(
            select(SmsChallenge.attempts).where(SmsChallenge.ecard_id == ecard.id)
            .execution_options(populate_existing=True)).one()
        AuditLog(session, self.clock).record(
            Actor("channel", channel_no), "level2.sms_wrong",
            subject=f"person:{ecard.person_id}", channel_no=channel_no, scene=SCENE,
            details={"attempts": attempts})
        remaining = max(SMS_MAX_ATTEMPTS - attempts, 0)
        if remaining == 0:
            raise PaymentError("SMS_CODE_ATTEMPTS_EXCEEDED", keeps_writes=True)
        raise PaymentError("SMS_CODE_WRONG", details={"remaining_attempts": remaining},
                           keeps_writes=True)

    @staticmethod
    def _holder_account(session: Session, person_id: int, now: Any) -> tuple[int, bool]:
        created = ledger.insert_ignore(session, Account, {
            "kind": "holder", "owner": str(person_id), "balance_fen": 0, "created_at": now})
        return ledger.account_id(session, "holder", str(person_id), now), created

    @staticmethod
    def _free_slot(session: Session) -> int:
        """A random slot no device ever held (the unique key is the backstop)."""
        while True:
            slot = secrets.randbelow(10**SLOT_DIGITS)
            taken = session.scalars(select(PaymentDevice.id)
                                    .where(PaymentDevice.slot == slot)).first()
            if taken is None:
                return slot


CODE_FORMAT = {"digits": 18, "prefix": "81", "slot_digits": SLOT_DIGITS, "mac_digits": 7,
               "step_s": STEP_S, "algorithm": "TOTP-HMAC-SHA256", "window_steps": 1}
