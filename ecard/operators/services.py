"""Creating operators and authenticating their bearer tokens (``op_…``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.clock import Clock
from ecard.errors import EcardError
from ecard.operators.models import Operator

TOKEN_PREFIX = "op_"  # noqa: S105  (a prefix, not a secret)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class OperatorRef:
    id: int
    name: str

    @property
    def actor(self) -> Actor:
        return Actor("operator", self.name)


def add_operator(session: Session, clock: Clock, name: str, actor: Actor) -> tuple[
        OperatorRef, str]:
    """Create an operator; the token is returned once and only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 64:
        raise EcardError("VALIDATION_FAILED", details={"name": "1 to 64 characters"})
    if session.scalars(select(Operator).where(Operator.name == name)).first() is not None:
        raise EcardError("OPERATOR_EXISTS")
    token = new_token()
    op = Operator(name=name, token_hash=token_hash(token), status="active",
                  created_at=clock.now(), last_used_at=None)
    session.add(op)
    session.flush()
    AuditLog(session, clock).record(actor, "operator.added", subject=f"operator:{op.id}",
                                    details={"name": name})
    return OperatorRef(op.id, op.name), token


def set_operator_status(session: Session, clock: Clock, name: str, status: str,
                        actor: Actor) -> None:
    op = session.scalars(select(Operator).where(Operator.name == name)).first()
    if op is None:
        raise EcardError("NOT_FOUND")
    op.status = status
    AuditLog(session, clock).record(actor, f"operator.{status}", subject=f"operator:{op.id}",
                                    details={"name": name})


def authenticate(session: Session, clock: Clock, header: str | None) -> OperatorRef:
    """The operator behind ``Authorization: Bearer op_…``; one opaque refusal."""
    if not header or not header.startswith("Bearer "):
        raise EcardError("OPERATOR_AUTH_MISSING")
    token = header[len("Bearer "):].strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise EcardError("OPERATOR_AUTH_INVALID")
    digest = token_hash(token)
    op = session.scalars(select(Operator).where(Operator.token_hash == digest)).first()
    if op is None or op.status != "active" or not hmac.compare_digest(op.token_hash, digest):
        raise EcardError("OPERATOR_AUTH_INVALID")
    op.last_used_at = clock.now()
    return OperatorRef(op.id, op.name)
