"""Spending a passed liveness session on the one step it was started for.

A session of purpose ``issuance`` (before a first e-card) or ``pin_reset`` proves a
live person for one later request. That request spends it inside its own
transaction, as the last check before its writes: a refusal later in the request
rolls the spending back, so the holder can retry with the same session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecard.certification.models import CertificationAttempt, CertificationSession
from ecard.clock import Clock, utc
from ecard.errors import EcardError

SPEND_MAX_AGE_S = 600  # a passed issuance or PIN-reset session is usable for 10 minutes


@dataclass(frozen=True)
class SpentSession:
    """What a spent session leaves on the step it allowed: the face score (farthest
    frame distance to the enrolment template) and the mode it was done in."""

    session_id: str
    mode: str
    face_score: float | None


def spend_session(session: Session, clock: Clock, channel_no: str, session_id: str,
                  person_id: int, *, purpose: str) -> SpentSession:
    """Use a passed session of ``person_id``, started by ``channel_no`` for
    ``purpose``, once and within 10 minutes of its decision (inside the caller's
    transaction: if the caller's request is refused later, the rollback un-spends
    it). ``CERTIFICATION_SESSION_INVALID`` otherwise, with the failed condition in
    ``details.reason`` (the channel started the session, so this reveals nothing
    it does not know)."""
    now = clock.now()
    row = session.scalars(select(CertificationSession).where(
        CertificationSession.id == session_id,
        CertificationSession.channel_no == channel_no)).one_or_none()
    problem = None
    if row is None:
        problem = "not_found"
    elif row.person_id != person_id:
        problem = "other_person"
    elif row.purpose != purpose:
        problem = "other_purpose"
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
    score = None if attempt.max_distance is None else round(attempt.max_distance, 4)
    return SpentSession(session_id=session_id, mode=attempt.mode, face_score=score)
