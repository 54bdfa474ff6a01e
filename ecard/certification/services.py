"""Remote certification sessions: the challenge, the decision, step-down and appeals.

A submission is decided in three steps, so that face work (0.1-0.4 s a frame) never
runs inside a database transaction holding a write lock:

1. a read: the open session of this channel, its person's enrolment template;
2. the analysis of every frame (no database);
3. one transaction that moves the session open -> decided with an UPDATE naming the
   old status (two concurrent submissions: one updates a row, the other none and is
   told ``SESSION_ALREADY_DECIDED``), locks the person's row, reads the hashes of the
   person's earlier frames, decides, and writes the attempt with its scores, the
   frames' hashes, the audit entry, the entitlement and, at the third failure of the
   local day, the appeal with the frames kept encrypted.

Identity across frames: every frame must match the template within the threshold,
and no two frames of the session may be farther apart than the threshold
(``decide_session``). A long clip with both head turns can exceed that pairwise bound
for a genuine person; we keep the bound (it is what catches a face swapped mid-way
by someone close to the template) and keep sessions short instead: at most
``CERTIFICATION_MAX_FRAMES`` key frames, chosen by the client around each action, and
elder mode asks one action, so the extreme poses of a long clip are never compared.
A genuine person refused there is offered the next way (elder mode, family help, an
appeal that a human reviews); identity is never loosened.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.identity import identify
from ecard.cards.models import ECard
from ecard.certification.analysis import (
    FrameAnalysis,
    KnownHashes,
    SessionDecision,
    analyse_frame,
    decide_session,
)
from ecard.certification.entitlement import local_today, record_pass
from ecard.certification.interfaces import Action, LandmarkFaceEngine
from ecard.certification.models import (
    ENTITLEMENT,
    ISSUANCE,
    PURPOSES,
    Appeal,
    AppealFrame,
    BenefitRecipient,
    CertificationAttempt,
    CertificationSession,
    SeenFrame,
)
from ecard.certification.prompts import DEADLINE_S, ELDER, STANDARD, draw_actions, prompts
from ecard.certification.spending import APPEAL_SPEND_WINDOW_S, SpentSession, spend_session
from ecard.clock import Clock, utc
from ecard.db import Database
from ecard.errors import CATALOGUE, EcardError
from ecard.faces.interfaces import FaceEngine
from ecard.faces.services import encoding_from_bytes
from ecard.protect import DataProtector
from ecard.registry.models import FaceTemplate, Person

SESSION_EXPIRED = "SESSION_EXPIRED"
FAILURES_BEFORE_APPEAL = 3
SEEN_FRAMES_LOOKBACK = 2000  # newest frame hashes of a person compared for replays

NEXT_STEPS = {
    "elder_mode": ("请切换到长辈模式再试一次：只需做一个动作，没有时间限制，有语音提示。",
                   "Try again in elder mode: one action, no time limit, spoken prompts."),
    "family_assist": ("请家人协助认证：家人可在“亲情服务”中添加您并帮您完成认证。",
                      "Ask a family member to help: through family services (亲情服务) they "
                      "can add you and guide the check."),
    "appeal": ("已为您提交人工审核，工作人员会比对您的照片，请留意结果通知。",
               "A person will review your pictures against your enrolment photo; you will "
               "be told the result."),
}


def age_band(birth: date, today: date) -> str:
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if age < 60:
        return "<60"
    if age < 70:
        return "60-69"
    if age < 80:
        return "70-79"
    return "80+"


@dataclass(frozen=True)
class StartRequest:
    mode: str = STANDARD
    purpose: str = ENTITLEMENT
    sign_no: str | None = None
    name: str | None = None          # purpose issuance, before the first e-card
    id_number: str | None = None
    card_no: str | None = None


@dataclass(frozen=True)
class UploadedFrame:
    data: bytes
    captured_at: Any


@dataclass(frozen=True)
class _Pending:
    id: str
    person_id: int
    mode: str
    purpose: str
    actions: tuple[Action, ...]
    deadline: Any
    template: Any


def _message(code: str) -> dict[str, str]:
    spec = CATALOGUE[code]
    return {"message_zh": spec.zh, "message_en": spec.en}


class CertificationService:
    def __init__(self, *, protector: DataProtector, clock: Clock, engine: FaceEngine,
                 threshold: float, max_frames: int, max_frame_bytes: int,
                 utc_offset_min: int, rng: random.Random | None = None,
                 appeal_spend_window_s: int = APPEAL_SPEND_WINDOW_S) -> None:
        self.protector, self.clock, self.engine = protector, clock, engine
        self.threshold, self.max_frames = threshold, max_frames
        self.max_frame_bytes, self.utc_offset_min = max_frame_bytes, utc_offset_min
        self.rng = rng or random.SystemRandom()
        self.appeal_spend_window_s = appeal_spend_window_s

    # -- start -----------------------------------------------------------------
    def start(self, session: Session, channel_no: str, req: StartRequest) -> dict[str, Any]:
        if req.mode not in (STANDARD, ELDER) or req.purpose not in PURPOSES:
            raise EcardError("VALIDATION_FAILED", details={"mode": req.mode,
                                                           "purpose": req.purpose})
        person_id, sign_no = self._person(session, channel_no, req)
        if session.get(FaceTemplate, person_id) is None:
            raise EcardError("ENROLMENT_PHOTO_MISSING")
        if req.purpose == ENTITLEMENT:
            recipient = self._recipient(session, person_id)
            if recipient is None:
                raise EcardError("RECIPIENT_NOT_FOUND")
            if recipient.status == "stopped":
                raise EcardError("RECIPIENT_STOPPED")
        now = self.clock.now()
        actions = draw_actions(req.mode, self.rng)
        row = CertificationSession(
            id="cs_" + secrets.token_urlsafe(18), channel_no=channel_no, sign_no=sign_no,
            person_id=person_id, mode=req.mode, purpose=req.purpose,
            nonce=secrets.token_urlsafe(24), actions=[a.value for a in actions],
            status="open", passed=None, reason=None, created_at=now,
            deadline=now + timedelta(seconds=DEADLINE_S[req.mode]), decided_at=None,
            used_at=None)
        session.add(row)
        session.flush()
        AuditLog(session, self.clock).record(
            Actor("channel", channel_no), "certification.session_started",
            subject=f"person:{person_id}", channel_no=channel_no, scene="certification",
            details={"session_id": row.id, "mode": req.mode, "purpose": req.purpose,
                     "actions": row.actions})
        return {"session_id": row.id, "nonce": row.nonce, "mode": row.mode,
                "purpose": row.purpose, "actions": row.actions,
                "prompts": prompts(req.mode, actions), "deadline": row.deadline,
                "max_frames": self.max_frames, "max_frame_bytes": self.max_frame_bytes}

    def _person(self, session: Session, channel_no: str, req: StartRequest
                ) -> tuple[int, str | None]:
        if req.sign_no:
            ecard = session.scalars(select(ECard).where(
                ECard.sign_no == req.sign_no, ECard.channel_no == channel_no)).one_or_none()
            if ecard is None:
                raise EcardError("ECARD_NOT_FOUND")
            if ecard.status != "active":
                raise EcardError("ECARD_NOT_ACTIVE", details={"status": ecard.status})
            return ecard.person_id, ecard.sign_no
        if req.purpose == ISSUANCE and req.name and req.id_number and req.card_no:
            ident = identify(session, self.protector, self.clock, name=req.name,
                             id_number=req.id_number, card_no=req.card_no)
            return ident.person.id, None
        raise EcardError("VALIDATION_FAILED", details={
            "sign_no": "required (or name, id_number and card_no for purpose issuance)"})

    @staticmethod
    def _recipient(session: Session, person_id: int) -> BenefitRecipient | None:
        return session.scalars(select(BenefitRecipient).where(
            BenefitRecipient.person_id == person_id)).one_or_none()

    # -- submit ----------------------------------------------------------------
    def submit(self, db: Database, channel_no: str, session_id: str,
               frames: Sequence[UploadedFrame], *, mirrored: bool = False) -> dict[str, Any]:
        """Decide the session from its frames (owns its two short transactions)."""
        if not frames or len(frames) > self.max_frames:
            raise EcardError("VALIDATION_FAILED", details={"frames": f"1 to {self.max_frames}"})
        for f in frames:
            if len(f.data) > self.max_frame_bytes:
                raise EcardError("IMAGE_TOO_LARGE", details={"max_bytes": self.max_frame_bytes})
        received_at = self.clock.now()
        with db.transaction() as session:
            pending = self._pending(session, channel_no, session_id)
        late = received_at > pending.deadline
        analyses: list[FrameAnalysis] = []
        if not late:
            engine = landmark_engine(self.engine)
            order = sorted(range(len(frames)), key=lambda i: (str(frames[i].captured_at), i))
            analyses = [analyse_frame(frames[i].data, index=k, engine=engine,
                                      max_bytes=self.max_frame_bytes, template=pending.template)
                        for k, i in enumerate(order)]
            frames = [frames[i] for i in order]
        with db.transaction() as session:
            return self._decide(session, channel_no, pending, analyses, frames, late, mirrored)

    def _pending(self, session: Session, channel_no: str, session_id: str) -> _Pending:
        row = session.scalars(select(CertificationSession).where(
            CertificationSession.id == session_id,
            CertificationSession.channel_no == channel_no)).one_or_none()
        if row is None:
            raise EcardError("SESSION_NOT_FOUND")
        if row.status != "open":
            raise EcardError("SESSION_ALREADY_DECIDED")
        template = session.get(FaceTemplate, row.person_id)
        if template is None:
            raise EcardError("ENROLMENT_PHOTO_MISSING")
        enc = encoding_from_bytes(self.protector.decrypt(template.template_enc,
                                                         "face_template.template"))
        return _Pending(row.id, row.person_id, row.mode, row.purpose,
                        tuple(Action(a) for a in row.actions), utc(row.deadline), enc)

    def _decide(self, session: Session, channel_no: str, p: _Pending,
                analyses: list[FrameAnalysis], frames: Sequence[UploadedFrame], late: bool,
                mirrored: bool) -> dict[str, Any]:
        now = self.clock.now()
        claimed = session.execute(
            update(CertificationSession)
            .where(CertificationSession.id == p.id, CertificationSession.status == "open")
            .values(status="decided", decided_at=now))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise EcardError("SESSION_ALREADY_DECIDED")
        person = session.scalars(select(Person).where(Person.id == p.person_id)
                                 .with_for_update()).one()
        today = local_today(self.clock, self.utc_offset_min)
        decision: SessionDecision | None = None
        reason: str | None
        if late:
            passed, reason, reasons = False, SESSION_EXPIRED, [SESSION_EXPIRED]
            scores: dict[str, Any] = {"threshold": self.threshold, "late_by_s": round(
                (now - p.deadline).total_seconds(), 1)}
        else:
            known = self._known(session, p.person_id)
            decision = decide_session(analyses, template=p.template, threshold=self.threshold,
                                      actions=p.actions, known=known, mirrored=mirrored)
            passed, reason, reasons = decision.passed, decision.reason, list(decision.reasons)
            scores = decision.to_dict()
            for f in analyses:
                if f.usable:
                    session.add(SeenFrame(person_id=p.person_id, session_id=p.id,
                                          sha256=f.sha256, phash=f.phash, created_at=now))
        row = session.get_one(CertificationSession, p.id)
        row.passed, row.reason = passed, reason
        session.add(CertificationAttempt(
            session_id=p.id, person_id=p.person_id, channel_no=channel_no, mode=p.mode,
            purpose=p.purpose, passed=passed, reason=reason, reasons=reasons,
            threshold=self.threshold,
            max_distance=None if decision is None else decision.max_distance,
            max_pairwise_distance=None if decision is None else decision.max_pairwise_distance,
            scores=scores, frame_count=len(frames), age_band=age_band(person.birth_date, today),
            local_day=today, decided_at=now))
        session.flush()
        actor = Actor("channel", channel_no)
        AuditLog(session, self.clock).record(
            actor, "certification.passed" if passed else "certification.failed",
            subject=f"person:{p.person_id}", channel_no=channel_no, scene="certification",
            details={"session_id": p.id, "mode": p.mode, "purpose": p.purpose,
                     "reason": reason, "reasons": reasons, "threshold": self.threshold,
                     "max_distance": scores.get("max_distance"),
                     "max_pairwise_distance": scores.get("max_pairwise_distance")})
        body: dict[str, Any] = {"session_id": p.id, "passed": passed, "reason": reason,
                                "reasons": reasons, "mode": p.mode, "purpose": p.purpose,
                                "scores": scores}
        if reason is not None:
            body.update(_message(reason))
        if passed:
            recipient = self._recipient(session, p.person_id)
            if p.purpose == ENTITLEMENT and recipient is not None:
                body["entitlement"] = record_pass(session, self.clock, recipient, today, actor,
                                                  source=f"session:{p.id}",
                                                  channel_no=channel_no)
        else:
            body["next_step"] = self._next_step(session, channel_no, p, frames, analyses,
                                                today)
        return body

    def _known(self, session: Session, person_id: int) -> KnownHashes:
        known = KnownHashes()
        for sha, phash in session.execute(
                select(SeenFrame.sha256, SeenFrame.phash)
                .where(SeenFrame.person_id == person_id)
                .order_by(SeenFrame.id.desc()).limit(SEEN_FRAMES_LOOKBACK)):
            known.sha256.add(sha)
            if phash is not None:
                known.phashes.append(phash)
        return known

    # -- step down and appeals ---------------------------------------------------
    def _next_step(self, session: Session, channel_no: str, p: _Pending,
                   frames: Sequence[UploadedFrame], analyses: list[FrameAnalysis],
                   today: date) -> dict[str, Any]:
        failures = session.scalar(select(func.count()).select_from(CertificationAttempt).where(
            CertificationAttempt.person_id == p.person_id,
            CertificationAttempt.local_day == today,
            CertificationAttempt.passed.is_(False))) or 0
        appeal = session.scalars(select(Appeal).where(
            Appeal.person_id == p.person_id,
            (Appeal.status == "open") | (Appeal.local_day == today))
            .order_by(Appeal.id.desc())).first()
        if appeal is None and failures >= FAILURES_BEFORE_APPEAL:
            appeal = self._open_appeal(session, channel_no, p, frames, analyses, failures, today)
        if appeal is not None:
            kind = "appeal"
        else:
            kind = "elder_mode" if p.mode == STANDARD else "family_assist"
        zh, en = NEXT_STEPS[kind]
        step: dict[str, Any] = {"kind": kind, "message_zh": zh, "message_en": en,
                                "failures_today": failures,
                                "failures_before_appeal": max(
                                    FAILURES_BEFORE_APPEAL - failures, 0)}
        if appeal is not None:
            step.update(appeal_id=appeal.id, appeal_status=appeal.status)
        return step

    def _open_appeal(self, session: Session, channel_no: str, p: _Pending,
                     frames: Sequence[UploadedFrame], analyses: list[FrameAnalysis],
                     failures: int, today: date) -> Appeal:
        row = session.get_one(CertificationSession, p.id)
        appeal = Appeal(person_id=p.person_id, channel_no=channel_no, sign_no=row.sign_no,
                        session_id=p.id, purpose=p.purpose, status="open", failures=failures,
                        opened_at=self.clock.now(), local_day=today, decided_at=None,
                        decided_by=None, note=None)
        session.add(appeal)
        session.flush()
        for n, f in enumerate(frames):
            a = analyses[n] if n < len(analyses) else None
            session.add(AppealFrame(
                appeal_id=appeal.id, n=n,
                image_enc=self.protector.encrypt(f.data, "appeal.frame"),
                sha256=hashlib.sha256(f.data).hexdigest(),
                distance=None if a is None or a.distance is None else round(a.distance, 4),
                reason=None if a is None else a.reason))
        AuditLog(session, self.clock).record(
            Actor.system(), "certification.appeal_opened", subject=f"person:{p.person_id}",
            channel_no=channel_no, scene="certification",
            details={"appeal_id": appeal.id, "session_id": p.id, "failures": failures,
                     "frames": len(frames)})
        return appeal

    # -- spending a passed session (issuance, PIN reset) -------------------------
    def spend(self, session: Session, channel_no: str, session_id: str, person_id: int, *,
              purpose: str) -> SpentSession:
        """Use a passed session (or one whose appeal was approved) once, for the step
        it was started for (:func:`ecard.certification.spending.spend_session`)."""
        return spend_session(session, self.clock, channel_no, session_id, person_id,
                             purpose=purpose, appeal_window_s=self.appeal_spend_window_s)


def landmark_engine(engine: FaceEngine) -> LandmarkFaceEngine:
    if not hasattr(engine, "landmarks"):
        raise RuntimeError("the face engine gives no landmarks")
    return engine  # type: ignore[return-value]
