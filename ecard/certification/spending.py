"""Spending a passed liveness session on the one step it was started for.

A session of purpose ``issuance`` (before a first e-card) or ``pin_reset`` proves a
live person for one later request. That request spends it inside its own
transaction, as the last check before its writes: a refusal later in the request
rolls the spending back, so the holder can retry with the same session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecard.certification.models import Appeal, CertificationAttempt, CertificationSession
from ecard.clock import Clock, utc
from ecard.errors import EcardError

SPEND_MAX_AGE_S = 600  # a passed issuance or PIN-reset session is usable for 10 minutes
# an approved appeal's session: a holder told by post or phone needs days, not minutes
APPEAL_SPEND_WINDOW_S = 72 * 3600


@dataclass(frozen=True)
class SpentSession:
    """What a spent session leaves on the step it allowed: the face score (farthest
    frame distance to the enrolment template) and the mode it was done in. Spent on an
    approved appeal: the appeal's id, and no face score (no frame matched; an
    operator's decision stands in for it)."""

    session_id: str
    mode: str
    face_score: float | None
    appeal_id: int | None = None


def spend_session(session: Session, clock: Clock, channel_no: str, session_id: str,
                  person_id: int, *, purpose: str,
                  appeal_window_s: int = APPEAL_SPEND_WINDOW_S) -> SpentSession:
    """Use a passed session of ``person_id``, started by ``channel_no`` for
    ``purpose``, once and within 10 minutes of its decision, or a failed one whose
    appeal was approved within ``appeal_window_s`` (inside the caller's
    transaction: if the caller's request is refused later, the rollback un-spends
    it). ``CERTIFICATION_SESSION_INVALID`` otherwise, with the failed condition in
    ``details.reason`` (the channel started the session, so this reveals nothing
    it does not know)."""
    now = clock.now()
    row = session.scalars(select(CertificationSession).where(
        CertificationSession.id == session_id,
        CertificationSession.channel_no == channel_no)).one_or_none()
    problem = None
    appeal = None
    if row is None:
        problem = "not_found"
    elif row.person_id != person_id:
        problem = "other_person"
    elif row.purpose != purpose:
        problem = "other_purpose"
    elif row.passed is False:
        appeal, problem = _appeal_problem(session, session_id, now, appeal_window_s)
    elif row.passed is not True or row.decided_at is None:
        problem = "not_passed"
    elif now - utc(row.decided_at) > timedelta(seconds=SPEND_MAX_AGE_S):
        problem = "too_old"
    if problem is not None:
        raise EcardError("CERTIFICATION_SESSION_INVALID", details={"reason": problem})
    spent = session.execute(
        update(CertificationSession)
        .where(CertificationSession.id == session_id, CertificationSession.used_at.is_(None))
        .values(used_at=now))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise EcardError("CERTIFICATION_SESSION_INVALID", details={"reason": "used"})
    attempt = session.scalars(select(CertificationAttempt).where(
        CertificationAttempt.session_id == session_id)).one()
    if appeal is not None:
        return SpentSession(session_id=session_id, mode=attempt.mode, face_score=None,
                            appeal_id=appeal.id)
    score = None if attempt.max_distance is None else round(attempt.max_distance, 4)
    return SpentSession(session_id=session_id, mode=attempt.mode, face_score=score)


def _appeal_problem(session: Session, session_id: str, now: datetime, window_s: int
                    ) -> tuple[Appeal | None, str | None]:
    """A failed session is usable only through its approved appeal, in the window:
    the appeal, or what stands in the way (``not_passed`` when none was opened from
    it, ``appeal_open``, ``appeal_rejected``, ``too_old``)."""
    appeal = session.scalars(select(Appeal).where(Appeal.session_id == session_id)
                             .order_by(Appeal.id.desc())).first()
    if appeal is None:
        return None, "not_passed"
    if appeal.status != "approved" or appeal.decided_at is None:
        return None, "appeal_open" if appeal.status == "open" else "appeal_rejected"
    if now - utc(appeal.decided_at) > timedelta(seconds=window_s):
        return None, "too_old"
    return appeal, None
