"""What the cards domain offers and needs: requests, results, the errors it raises,
and the narrow views of its collaborators (the calling channel, the signer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ecard.errors import EcardError

LEVEL_1 = 1
SCENE_ISSUANCE = "issuance"
CREDENTIAL_TYP = "ecard-credential+jwt"

# What a channel is told about an e-card's status (the holder's next step).
STATUS_EXPLANATIONS: dict[str, str] = {
    "active": "The e-card can be used.",
    "suspended": "The physical card is reported lost; the e-card works again once the "
                 "loss is cancelled or the card is replaced.",
    "revoked": "The physical card was cancelled; the e-card cannot be used any more.",
    "unlinked": "The holder unlinked the e-card from this channel; issuing it again in "
                "this channel restores it.",
}


class ECardError(EcardError):
    """An e-card operation was refused (``ECARD_*``, ``PIN_*``, identity codes)."""

    default_code = "ECARD_NOT_FOUND"


class ChannelRef(Protocol):
    """The authenticated caller, as far as this domain needs it."""

    @property
    def channel_no(self) -> str: ...


class Signer(Protocol):
    def sign(self, claims: dict[str, Any], *, typ: str) -> str: ...


class SpentProof(Protocol):
    @property
    def session_id(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def face_score(self) -> float | None: ...

    @property
    def appeal_id(self) -> int | None: ...  # spent on an operator-approved appeal


class LivenessProofs(Protocol):
    """Passed liveness sessions (remote certification), spent once by the step they
    allow: ``purpose`` ``issuance`` before a first e-card, ``pin_reset`` before a new
    PIN. Raises ``CERTIFICATION_SESSION_INVALID`` for anything but a recent passed
    session of ``person_id`` started by ``channel_no`` for ``purpose``, unused."""

    def spend(self, session: Session, channel_no: str, session_id: str, person_id: int, *,
              purpose: str) -> SpentProof: ...


@dataclass(frozen=True)
class IssueRequest:
    name: str
    id_number: str
    card_no: str
    # a passed liveness session (purpose issuance) of this person: needed for a first
    # e-card, ignored when the holder relinks with the PIN they already have
    certification_session_id: str | None = None
    pin: str | None = None  # new PIN (first issuance) or the existing PIN (relink)


@dataclass(frozen=True)
class CardView:
    """An e-card as its own channel may see it: pseudonymous, masked, no raw PII."""

    sign_no: str
    openid: str
    level: int
    status: str
    status_explanation: str
    name_masked: str
    id_masked: str
    region: str
    issued_at: datetime
    face_score: float | None


@dataclass(frozen=True)
class IssueResult:
    """``event`` is ``issued``, ``relinked`` or ``already_issued``."""

    event: str
    card: CardView

    @property
    def created(self) -> bool:
        return self.event != "already_issued"


@dataclass(frozen=True)
class ChannelHolding:
    """One channel where the same person holds an e-card (never its sign number or
    openid: channels must not be able to join their records)."""

    channel_no: str
    name: str
    type: str
    level: int
    status: str
    issued_at: datetime
    this_channel: bool


@dataclass(frozen=True)
class Credential:
    token: str
    kid: str
    expires_at: datetime
