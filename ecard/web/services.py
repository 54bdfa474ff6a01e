"""What the H5 pages need from the platform: links for channels, and the session as
the page sees it. No Flask here; the views pass the database session and the claims.

The page never learns more than it shows: the masked name, the actions and their
prompts, the deadline, the capture plan, and after the decision its reason in words
and the next step. Scores, ID numbers and the channel's identifiers stay on the
server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.certification.interfaces import Action
from ecard.certification.models import Appeal, CertificationAttempt, CertificationSession
from ecard.certification.prompts import STANDARD, prompts
from ecard.certification.services import NEXT_STEPS
from ecard.clock import Clock, utc
from ecard.errors import CATALOGUE, EcardError
from ecard.protect import load_master_key
from ecard.registry.models import Person
from ecard.web.links import InvalidLink, LinkClaims, LinkSigner, derive_link_key
from ecard.web.plan import capture_plan

log = logging.getLogger("ecard.web")

PAGE_PATH = "/h5/certify/{session_id}"


@dataclass(frozen=True)
class Link:
    session_id: str
    path: str
    url: str
    token: str
    expires_at: datetime


def signer_from_config(config: dict[str, Any]) -> LinkSigner:
    master = load_master_key(config.get("MASTER_KEY"), Path(config["INSTANCE_DIR"]))
    return LinkSigner(derive_link_key(master))


class H5Service:
    def __init__(self, *, signer: LinkSigner, clock: Clock, public_url: str,
                 max_frames: int) -> None:
        self.signer, self.clock = signer, clock
        self.public_url = public_url.rstrip("/")
        self.max_frames = max_frames

    # -- for channels ------------------------------------------------------------
    def create_link(self, session: Session, channel_no: str, session_id: str,
                    return_url: str | None) -> Link:
        """A page link for an open session of ``channel_no``, valid until its deadline."""
        row = self._session_row(session, channel_no, session_id)
        if row.status != "open":
            raise EcardError("SESSION_ALREADY_DECIDED")
        deadline = utc(row.deadline)
        if self.clock.now() >= deadline:
            raise EcardError("SESSION_EXPIRED")
        token = self.signer.issue(LinkClaims(session_id=row.id, channel_no=channel_no,
                                             expires_at=int(deadline.timestamp()),
                                             return_url=return_url))
        path = PAGE_PATH.format(session_id=row.id) + f"#t={token}"
        log.info("h5 link issued for session %s (channel %s)", row.id, channel_no)
        return Link(session_id=row.id, path=path, url=self.public_url + path, token=token,
                    expires_at=deadline)

    # -- for the page -------------------------------------------------------------
    def claims(self, token: str | None, session_id: str) -> LinkClaims:
        if not token:
            raise EcardError("H5_LINK_INVALID")
        try:
            return self.signer.verify_at_time(token, session_id,
                                              int(self.clock.now().timestamp()))
        except InvalidLink:
            raise EcardError("H5_LINK_INVALID") from None

    def view(self, session: Session, claims: LinkClaims) -> dict[str, Any]:
        """The session as the page shows it; once decided, its outcome."""
        row = self._session_row(session, claims.channel_no, claims.session_id)
        person = session.get(Person, row.person_id)
        actions = [Action(a) for a in row.actions]
        shown = prompts(row.mode, actions)
        holds = [step.get("hold_s") for step in shown["steps"]]
        body: dict[str, Any] = {
            "session_id": row.id, "mode": row.mode, "purpose": row.purpose,
            "status": row.status, "actions": list(row.actions), "prompts": shown,
            "deadline": utc(row.deadline).isoformat(),
            "now": self.clock.now().isoformat(),
            "max_frames": self.max_frames,
            "plan": capture_plan(row.mode, list(row.actions), self.max_frames,
                                 holds).to_dict(),
            "name_masked": None if person is None else person.name_masked,
        }
        if row.status != "open":
            attempt = session.scalars(select(CertificationAttempt).where(
                CertificationAttempt.session_id == row.id)).first()
            reason = attempt.reason if attempt is not None else row.reason
            decided: dict[str, Any] = {"passed": bool(row.passed), "reason": reason}
            if not row.passed and attempt is not None:
                # a reload of a failed page still says what to do next
                decided["next_step"] = next_step_now(session, row, attempt)
            body["outcome"] = outcome(decided, claims)
        body["return_url"] = back_url(claims, body.get("outcome"))
        return body

    def _session_row(self, session: Session, channel_no: str,
                     session_id: str) -> CertificationSession:
        row = session.scalars(select(CertificationSession).where(
            CertificationSession.id == session_id,
            CertificationSession.channel_no == channel_no)).one_or_none()
        if row is None:
            raise EcardError("SESSION_NOT_FOUND")
        return row


def next_step_now(session: Session, row: CertificationSession,
                  attempt: CertificationAttempt) -> dict[str, Any]:
    """The next step after a failed session, as the decision gave it: the appeal the
    person has open (or opened that day), else elder mode after a standard session and
    family help after an elder one (certification.services._next_step)."""
    appeal = session.scalars(select(Appeal).where(
        Appeal.person_id == row.person_id,
        (Appeal.status == "open") | (Appeal.local_day == attempt.local_day))
        .order_by(Appeal.id.desc())).first()
    kind = "appeal" if appeal is not None else \
        ("elder_mode" if row.mode == STANDARD else "family_assist")
    return {"kind": kind, "message_zh": NEXT_STEPS[kind][0],
            "appeal_id": None if appeal is None else appeal.id}


def back_url(claims: LinkClaims, result: dict[str, Any] | None) -> str | None:
    """The channel's return URL with the session id and, once decided, the result and
    the next step (never a name or a score)."""
    if not claims.return_url:
        return None
    params = {"session_id": claims.session_id}
    if result is not None:
        params["result"] = "passed" if result.get("passed") else "failed"
        step = result.get("next_step")
        if isinstance(step, dict) and step.get("kind"):
            params["next_step"] = str(step["kind"])
    sep = "&" if "?" in claims.return_url else "?"
    return claims.return_url + sep + urlencode(params)


def outcome(decision: dict[str, Any], claims: LinkClaims) -> dict[str, Any]:
    """The decision in the page's words: passed, the reason as a sentence (zh), the
    next step, and until when the entitlement now runs. Scores are left out."""
    reason = decision.get("reason")
    out: dict[str, Any] = {"passed": bool(decision.get("passed")), "reason": reason,
                           "message": CATALOGUE[reason].zh if reason in CATALOGUE else None}
    step = decision.get("next_step")
    if isinstance(step, dict):
        out["next_step"] = {"kind": step.get("kind"), "message": step.get("message_zh"),
                            "appeal_id": step.get("appeal_id")}
    entitlement = decision.get("entitlement")
    if isinstance(entitlement, dict) and entitlement.get("certified_until"):
        out["certified_until"] = str(entitlement["certified_until"])
    out["return_url"] = back_url(claims, out)
    return out
