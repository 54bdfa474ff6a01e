"""The operator's side of appeals: list, read, look at faces (audited), decide.

Every view of a face image (a kept frame or the enrolment photo) writes an audit
entry with the operator as the actor, before the bytes leave the platform.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.audit.services import AuditLog
from ecard.cards.models import ECard
from ecard.certification.entitlement import local_today, record_pass
from ecard.certification.models import (
    ENTITLEMENT,
    ISSUANCE,
    PIN_RESET,
    Appeal,
    AppealFrame,
    BenefitRecipient,
    CertificationAttempt,
)
from ecard.certification.spending import APPEAL_SPEND_WINDOW_S
from ecard.clock import Clock
from ecard.errors import EcardError
from ecard.notifications.services import enqueue_notification
from ecard.operators.services import OperatorRef
from ecard.protect import DataProtector
from ecard.registry.models import FaceTemplate, Person


def _appeal(session: Session, appeal_id: int, *, for_update: bool = False) -> Appeal:
    stmt = select(Appeal).where(Appeal.id == appeal_id)
    if for_update:
        stmt = stmt.with_for_update()
    appeal = session.scalars(stmt).one_or_none()
    if appeal is None:
        raise EcardError("APPEAL_NOT_FOUND")
    return appeal


def _summary(appeal: Appeal, person: Person) -> dict[str, Any]:
    return {"id": appeal.id, "status": appeal.status, "purpose": appeal.purpose,
            "channel_no": appeal.channel_no, "session_id": appeal.session_id,
            "failures": appeal.failures, "opened_at": appeal.opened_at,
            "decided_at": appeal.decided_at, "decided_by": appeal.decided_by,
            "note": appeal.note, "person": {"id_masked": person.id_masked,
                                            "name_masked": person.name_masked,
                                            "region": person.region}}


def list_appeals(session: Session, status: str | None, limit: int = 100) -> list[dict[str, Any]]:
    stmt = select(Appeal, Person).join(Person, Person.id == Appeal.person_id)
    if status:
        stmt = stmt.where(Appeal.status == status)
    rows = session.execute(stmt.order_by(Appeal.id.desc()).limit(limit)).all()
    return [_summary(a, p) for a, p in rows]


def appeal_detail(session: Session, appeal_id: int) -> dict[str, Any]:
    appeal = _appeal(session, appeal_id)
    person = session.get_one(Person, appeal.person_id)
    frames = session.scalars(select(AppealFrame).where(AppealFrame.appeal_id == appeal.id)
                             .order_by(AppealFrame.n)).all()
    attempts = session.scalars(select(CertificationAttempt).where(
        CertificationAttempt.person_id == appeal.person_id,
        CertificationAttempt.local_day == appeal.local_day)
        .order_by(CertificationAttempt.id)).all()
    return _summary(appeal, person) | {
        "frames": [{"n": f.n, "sha256": f.sha256, "distance": f.distance, "reason": f.reason}
                   for f in frames],
        "enrolment_photo": session.get(FaceTemplate, appeal.person_id) is not None,
        "attempts": [{"session_id": a.session_id, "mode": a.mode, "passed": a.passed,
                      "reason": a.reason, "reasons": a.reasons, "threshold": a.threshold,
                      "max_distance": a.max_distance,
                      "max_pairwise_distance": a.max_pairwise_distance,
                      "decided_at": a.decided_at} for a in attempts]}


def _sniff(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def view_frame(session: Session, protector: DataProtector, clock: Clock, op: OperatorRef,
               appeal_id: int, n: int) -> tuple[bytes, str]:
    appeal = _appeal(session, appeal_id)
    frame = session.get(AppealFrame, (appeal.id, n))
    if frame is None:
        raise EcardError("NOT_FOUND")
    data = protector.decrypt(frame.image_enc, "appeal.frame")
    AuditLog(session, clock).record(op.actor, "appeal.frame_viewed",
                                    subject=f"person:{appeal.person_id}", scene="appeal",
                                    details={"appeal_id": appeal.id, "frame": n,
                                             "sha256": frame.sha256})
    return data, _sniff(data)


def view_enrolment_photo(session: Session, protector: DataProtector, clock: Clock,
                         op: OperatorRef, appeal_id: int) -> tuple[bytes, str]:
    appeal = _appeal(session, appeal_id)
    template = session.get(FaceTemplate, appeal.person_id)
    if template is None:
        raise EcardError("ENROLMENT_PHOTO_MISSING")
    data = protector.decrypt(template.photo_enc, "face_template.photo")
    AuditLog(session, clock).record(op.actor, "appeal.enrolment_photo_viewed",
                                    subject=f"person:{appeal.person_id}", scene="appeal",
                                    details={"appeal_id": appeal.id,
                                             "sha256": template.photo_sha256})
    return data, _sniff(data)


def decide_appeal(session: Session, clock: Clock, op: OperatorRef, appeal_id: int,
                  decision: str, note: str | None, utc_offset_min: int,
                  spend_window_s: int = APPEAL_SPEND_WINDOW_S) -> dict[str, Any]:
    """Approve or reject an open appeal, and tell the channel that started its session
    (``certification_appeal_decided``). Approving an appeal of pension certification
    counts as a pass for the entitlement; approving one opened from an issuance or
    PIN-reset session makes that session spendable once, by its channel, for that
    step, until ``spendable_until`` (``spend_window_s`` after the decision: see
    ``spending.py``). It certifies no pension. A rejected appeal's session stays
    unusable."""
    if decision not in ("approve", "reject"):
        raise EcardError("VALIDATION_FAILED", details={"decision": "approve or reject"})
    appeal = _appeal(session, appeal_id, for_update=True)
    if appeal.status != "open":
        raise EcardError("APPEAL_ALREADY_DECIDED", details={"status": appeal.status})
    appeal.status = "approved" if decision == "approve" else "rejected"
    appeal.decided_at, appeal.decided_by, appeal.note = clock.now(), op.name, note
    session.flush()
    AuditLog(session, clock).record(op.actor, f"appeal.{appeal.status}",
                                    subject=f"person:{appeal.person_id}", scene="appeal",
                                    details={"appeal_id": appeal.id, "note": note})
    out: dict[str, Any] = {"id": appeal.id, "status": appeal.status,
                           "decided_by": op.name, "decided_at": appeal.decided_at}
    if appeal.status == "approved" and appeal.purpose in (ISSUANCE, PIN_RESET):
        out["spendable_until"] = appeal.decided_at + timedelta(seconds=spend_window_s)
    _notify_channel(session, clock, appeal, out.get("spendable_until"))
    if appeal.status == "approved":
        recipient = session.scalars(select(BenefitRecipient).where(
            BenefitRecipient.person_id == appeal.person_id)).one_or_none()
        if (appeal.purpose == ENTITLEMENT and recipient is not None
                and recipient.status != "stopped"):
            out["entitlement"] = record_pass(session, clock, recipient,
                                             local_today(clock, utc_offset_min), op.actor,
                                             source=f"appeal:{appeal.id}")
    return out


def _notify_channel(session: Session, clock: Clock, appeal: Appeal,
                    spendable_until: datetime | None) -> None:
    """The decision, to the channel that started the session. An issuance appeal has
    no e-card yet: the notification goes without a ``sign_no`` (the channel's own
    stream) and names the ``session_id`` the channel holds; with an e-card it carries
    its ``sign_no`` and ``openid`` too. No personal data either way."""
    payload: dict[str, Any] = {
        "appeal_id": appeal.id, "session_id": appeal.session_id, "purpose": appeal.purpose,
        "outcome": appeal.status, "decided_at": clock.now().isoformat(),
        "spendable_until": None if spendable_until is None else spendable_until.isoformat()}
    ecard = None if appeal.sign_no is None else session.scalars(select(ECard).where(
        ECard.sign_no == appeal.sign_no, ECard.channel_no == appeal.channel_no)).one_or_none()
    if ecard is not None:
        payload.update(sign_no=ecard.sign_no, openid=ecard.openid)
    enqueue_notification(session, clock, appeal.channel_no,
                         None if ecard is None else ecard.sign_no,
                         "certification_appeal_decided", payload)
