"""Level-1 e-cards: issuance per (person, channel), unlinking, the PIN, credentials.

Every method works inside the caller's transaction (a view or a CLI command owns
it) and orders its checks so that every refusal comes before the first write: a
refused request leaves nothing behind. The one deliberate exception is a wrong PIN,
whose count :class:`~ecard.cards.pin.PinService` writes before anything else and keeps
(``keeps_writes``) when the request is refused.

Real person: a first e-card, and a new PIN, need a passed liveness session of the
holder (remote certification, purposes ``issuance`` and ``pin_reset``), not a single
image: a still photo proves nothing about a live person. The session is spent as the
last check before the writes, in the same transaction, so a request refused at any
point (or losing a race) rolls the spending back and the holder can retry with it.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.identity import current_card, identify
from ecard.cards.interfaces import (
    CREDENTIAL_TYP,
    LEVEL_1,
    SCENE_ISSUANCE,
    STATUS_EXPLANATIONS,
    CardView,
    ChannelHolding,
    Credential,
    ECardError,
    IssueRequest,
    IssueResult,
    LivenessProofs,
    Signer,
)
from ecard.cards.models import ECard, allocate_status_index
from ecard.cards.pin import PinService, check_new_pin
from ecard.channels.models import Channel
from ecard.clock import Clock
from ecard.notifications.services import enqueue_notification
from ecard.protect import DataProtector
from ecard.registry.models import Person, PhysicalCard

PURPOSE_ISSUANCE = "issuance"
PURPOSE_PIN_RESET = "pin_reset"
_REFUSED_STATUS = {"suspended": "ECARD_SUSPENDED", "revoked": "ECARD_REVOKED",
                   "unlinked": "ECARD_NOT_ACTIVE"}


def new_sign_no(region: str) -> str:
    """签发号: the card's region and 16 random base32 characters (80 bits); nothing
    in it is derived from personal data."""
    return region + base64.b32encode(secrets.token_bytes(10)).decode()


def _actor(channel_no: str) -> Actor:
    return Actor("channel", channel_no)


class CardService:
    def __init__(self, *, protector: DataProtector, clock: Clock, pins: PinService,
                 liveness: LivenessProofs, signer: Signer, credential_ttl_s: int) -> None:
        self.protector = protector
        self.clock = clock
        self.pins = pins
        self.liveness = liveness
        self.signer = signer
        self.credential_ttl_s = credential_ttl_s

    # -- issuance ------------------------------------------------------------
    def issue_card(self, session: Session, channel_no: str, req: IssueRequest) -> IssueResult:
        ident = identify(session, self.protector, self.clock, name=req.name,
                         id_number=req.id_number, card_no=req.card_no)
        person, card = ident.person, ident.card
        ecard = session.scalars(
            select(ECard).where(ECard.person_id == person.id, ECard.channel_no == channel_no)
            .with_for_update()
        ).one_or_none()
        if ecard is not None and ecard.status == "active":
            self._notify(session, ecard, "already_issued")
            return IssueResult("already_issued", self._view(session, ecard, person))
        if ecard is not None and ecard.status in ("suspended", "revoked"):
            raise ECardError(_REFUSED_STATUS[ecard.status])

        new_pin: str | None = None
        spent = None
        if not self.pins.has_pin(session, person.id):
            if not req.certification_session_id:
                raise ECardError("CERTIFICATION_SESSION_REQUIRED")
            if not req.pin:
                raise ECardError("PIN_REQUIRED")
            new_pin = check_new_pin(req.pin, ident.id_number)
            # last refusal before the writes; rolled back with them if anything fails
            spent = self.liveness.spend(session, channel_no, req.certification_session_id,
                                        person.id, purpose=PURPOSE_ISSUANCE)
            event = "issued"
        else:
            if not req.pin:
                raise ECardError("PIN_REQUIRED")
            # The first-issuance form (face check + a new PIN) for someone who already
            # has a PIN: a wrong PIN there means "enter the PIN you already set". The
            # session is not spent: the holder's PIN is the proof here.
            wrong = "PIN_ALREADY_SET" if req.certification_session_id else "PIN_WRONG"
            self.pins.verify(session, person.id, req.pin, actor=_actor(channel_no),
                             channel_no=channel_no, wrong_code=wrong)
            event = "relinked"
        score = None if spent is None else spent.face_score

        # Every refusal is behind us: write.
        now = self.clock.now()
        try:
            if new_pin is not None:
                self.pins.set_initial(session, person.id, new_pin)
            if ecard is None:
                ecard = ECard(sign_no=new_sign_no(card.region), person_id=person.id,
                              channel_no=channel_no, card_id=card.id,
                              openid=self.protector.pseudonym(channel_no, str(person.id)),
                              status_index=allocate_status_index(session, now),
                              level=LEVEL_1, status="active", face_score=score,
                              issued_at=now, updated_at=now, unlinked_at=None)
                session.add(ecard)
            else:
                ecard.status, ecard.card_id, ecard.level = "active", card.id, LEVEL_1
                ecard.face_score, ecard.issued_at, ecard.updated_at = score, now, now
                ecard.unlinked_at = None
            session.flush()
        except IntegrityError as exc:
            # A concurrent request for the same person won the insert; a retry answers
            # "already issued" or asks for the PIN.
            raise ECardError("ISSUANCE_CONFLICT") from exc
        details: dict[str, Any] = {"sign_no": ecard.sign_no, "level": LEVEL_1}
        if spent is not None:
            details.update(face_score=score, certification_session_id=spent.session_id,
                           certification_mode=spent.mode)
            if spent.appeal_id is not None:
                details["certification_appeal_id"] = spent.appeal_id
        if new_pin is not None:
            details["pin_set"] = True
        self._audit(session, channel_no, person.id, f"ecard.{event}", details)
        self._notify(session, ecard, event)
        return IssueResult(event, self._view(session, ecard, person))

    def unlink(self, session: Session, channel_no: str, sign_no: str,
               pin: str | None) -> CardView:
        ecard = self._usable(session, channel_no, sign_no)
        if not pin:
            raise ECardError("PIN_REQUIRED")
        self.pins.verify(session, ecard.person_id, pin, actor=_actor(channel_no),
                         channel_no=channel_no)
        now = self.clock.now()
        ecard.status, ecard.unlinked_at, ecard.updated_at = "unlinked", now, now
        session.flush()
        self._audit(session, channel_no, ecard.person_id, "ecard.unlinked",
                    {"sign_no": ecard.sign_no})
        self._notify(session, ecard, "unlinked")
        return self._view(session, ecard)

    # -- the PIN -------------------------------------------------------------
    def verify_pin(self, session: Session, channel_no: str, sign_no: str, pin: str) -> CardView:
        ecard = self._usable(session, channel_no, sign_no)
        self.pins.verify(session, ecard.person_id, pin, actor=_actor(channel_no),
                         channel_no=channel_no)
        self._audit(session, channel_no, ecard.person_id, "pin.verified",
                    {"sign_no": ecard.sign_no}, scene="pin")
        self._notify(session, ecard, "pin_verified")
        return self._view(session, ecard)

    def reset_pin(self, session: Session, channel_no: str, sign_no: str,
                  certification_session_id: str | None, new_pin: str) -> CardView:
        """A passed liveness session of purpose ``pin_reset`` sets a new PIN and unlocks it.

        Why a session and not one photo, as first issuance: the reset is what a thief
        holding the phone and a photo of the holder would aim for (the PIN guards
        payments), so it needs the same proof of a live person as the first e-card."""
        ecard = self._usable(session, channel_no, sign_no)
        person = session.get_one(Person, ecard.person_id)
        if not certification_session_id:
            raise ECardError("CERTIFICATION_SESSION_REQUIRED")
        id_number = self.protector.decrypt_str(person.id_number_enc, "person.id_number")
        pin = check_new_pin(new_pin, id_number)
        spent = self.liveness.spend(session, channel_no, certification_session_id, person.id,
                                    purpose=PURPOSE_PIN_RESET)
        if self.pins.has_pin(session, person.id):
            self.pins.reset(session, person.id, pin)
        else:
            self.pins.set_initial(session, person.id, pin)
        self._audit(session, channel_no, person.id, "pin.reset",
                    {"sign_no": ecard.sign_no, "face_score": spent.face_score,
                     "certification_session_id": spent.session_id,
                     "certification_appeal_id": spent.appeal_id}, scene="pin")
        return self._view(session, ecard, person)

    # -- reading -------------------------------------------------------------
    def get_card(self, session: Session, channel_no: str, sign_no: str) -> CardView:
        return self._view(session, self._own(session, channel_no, sign_no))

    def list_card_channels(self, session: Session, channel_no: str,
                           sign_no: str) -> list[ChannelHolding]:
        ecard = self._usable(session, channel_no, sign_no, for_update=False)
        rows = session.execute(
            select(ECard, Channel).join(Channel, Channel.channel_no == ECard.channel_no)
            .where(ECard.person_id == ecard.person_id,
                   ECard.status.in_(("active", "suspended")))
            .order_by(ECard.issued_at, ECard.channel_no)
        ).all()
        return [ChannelHolding(channel_no=ch.channel_no, name=ch.name, type=ch.type,
                               level=ec.level, status=ec.status, issued_at=ec.issued_at,
                               this_channel=ch.channel_no == channel_no)
                for ec, ch in rows]

    def issue_credential(self, session: Session, channel_no: str, sign_no: str) -> Credential:
        """A JWS (ES256, ``kid``) the channel verifies offline with the JWKS."""
        ecard = self._usable(session, channel_no, sign_no, for_update=False)
        view = self._view(session, ecard)
        now = self.clock.now()
        expires = now + timedelta(seconds=self.credential_ttl_s)
        claims = {
            "iss": "ecard", "sub": ecard.openid, "aud": channel_no, "sign_no": ecard.sign_no,
            "level": ecard.level, "status": ecard.status, "region": view.region,
            "name_masked": view.name_masked, "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()), "jti": secrets.token_urlsafe(16),
        }
        token = self.signer.sign(claims, typ=CREDENTIAL_TYP)
        kid = _kid_of(token)
        return Credential(token=token, kid=kid, expires_at=expires)

    # -- helpers -------------------------------------------------------------
    def _own(self, session: Session, channel_no: str, sign_no: str, *,
             for_update: bool = False) -> ECard:
        """This channel's e-card: another channel's sign number is as unknown as a
        made-up one."""
        stmt = select(ECard).where(ECard.sign_no == sign_no, ECard.channel_no == channel_no)
        if for_update:
            stmt = stmt.with_for_update()
        ecard = session.scalars(stmt).one_or_none()
        if ecard is None:
            raise ECardError("ECARD_NOT_FOUND")
        return ecard

    def _usable(self, session: Session, channel_no: str, sign_no: str, *,
                for_update: bool = True) -> ECard:
        ecard = self._own(session, channel_no, sign_no, for_update=for_update)
        if ecard.status != "active":
            raise ECardError(_REFUSED_STATUS.get(ecard.status, "ECARD_NOT_ACTIVE"),
                             details={"status": ecard.status})
        return ecard

    def _view(self, session: Session, ecard: ECard, person: Person | None = None) -> CardView:
        person = person or session.get_one(Person, ecard.person_id)
        card = session.get(PhysicalCard, ecard.card_id) or current_card(session, person.id)
        return CardView(
            sign_no=ecard.sign_no, openid=ecard.openid, level=ecard.level, status=ecard.status,
            status_explanation=STATUS_EXPLANATIONS.get(ecard.status, ""),
            name_masked=person.name_masked, id_masked=person.id_masked,
            region=card.region if card else person.region, issued_at=ecard.issued_at,
            face_score=ecard.face_score)

    def _audit(self, session: Session, channel_no: str, person_id: int, action: str,
               details: dict[str, Any], *, scene: str = SCENE_ISSUANCE) -> None:
        AuditLog(session, self.clock).record(
            _actor(channel_no), action, subject=f"person:{person_id}", channel_no=channel_no,
            scene=scene, details=details)

    def _notify(self, session: Session, ecard: ECard, event: str) -> None:
        enqueue_notification(session, self.clock, ecard.channel_no, ecard.sign_no, event, {
            "sign_no": ecard.sign_no, "openid": ecard.openid, "level": ecard.level,
            "status": ecard.status, "occurred_at": self.clock.now().isoformat()})


def _kid_of(token: str) -> str:
    kid = jwt.get_unverified_header(token).get("kid")
    return str(kid)
