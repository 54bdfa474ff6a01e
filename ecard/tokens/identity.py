"""Identity codes online: issue for an active e-card, verify and redeem once, release
the scanning channel's attributes, and list what was released to whom.

Every method works inside the caller's transaction. Checks come before writes: a
refused verification redeems nothing and releases nothing. The one-time redemption
is a single conditional UPDATE (``redeemed_at IS NULL``), so of any number of
concurrent verifications of one code, on any number of processes, the database lets
exactly one succeed.

Issuing a code is not written to the audit log: it changes no e-card state, the
nonce row records it, and it is the most frequent call (a fresh code every 60 s
while the holder's screen is on), which would queue every issuance on the audit
chain's head. Each release of attributes (the privacy-relevant event) is audited.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecard.audit.services import Actor, AuditLog
from ecard.cards.models import ECard
from ecard.channels.models import Channel
from ecard.clock import Clock
from ecard.errors import EcardError
from ecard.protect import DataProtector, mask_card_number
from ecard.registry.models import Person, PhysicalCard
from ecard.tokens.attributes import SENSITIVE, check_scene, resolve_release
from ecard.tokens.interfaces import InvalidToken
from ecard.tokens.models import Disclosure, IdentityCode
from ecard.tokens.qr import (
    MAX_LIFETIME_S,
    NONCE_BYTES,
    SCENES,
    ExpiredToken,
    SigningKeySource,
    sign_identity_code,
    verify_identity_code,
)

# Unexpired rows are needed; expired ones are deleted this long after expiry.
CLEANUP_GRACE_S = 120
MAX_DISCLOSURES_PAGE = 200

_ISSUE_REFUSED = {"suspended": "ECARD_SUSPENDED", "revoked": "ECARD_REVOKED",
                  "unlinked": "ECARD_NOT_ACTIVE"}
_CODE_REFUSED = {"suspended": "CODE_SUSPENDED", "revoked": "CODE_REVOKED",
                 "unlinked": "CODE_REVOKED"}


class VerifyingKeys(SigningKeySource, Protocol):
    """What verification needs from the key ring (:class:`KeyRing` fits)."""

    def public_keys(self) -> Any: ...

    def reload(self) -> None: ...


@dataclass(frozen=True)
class IssuedCode:
    code: str
    kid: str
    scenes: list[str]
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class VerifiedCode:
    scene: str
    attributes: dict[str, Any]
    released: list[str]
    issued_at: datetime
    expires_at: datetime
    redeemed_at: datetime


@dataclass(frozen=True)
class DisclosureView:
    channel_no: str
    channel_name: str
    channel_type: str
    scene: str
    attributes: list[str]
    disclosed_at: datetime
    shown_in_this_channel: bool


def _from_ts(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class IdentityCodeService:
    def __init__(self, *, keys: VerifyingKeys, protector: DataProtector, clock: Clock,
                 lifetime_s: int = MAX_LIFETIME_S) -> None:
        self.keys = keys
        self.protector = protector
        self.clock = clock
        self.lifetime_s = lifetime_s

    # -- issuing -------------------------------------------------------------
    def issue(self, session: Session, channel_no: str, sign_no: str,
              scenes: Iterable[str] | None = None) -> IssuedCode:
        """A fresh code for one of this channel's active e-cards."""
        wanted = sorted(set(scenes)) if scenes else sorted(SCENES)
        for scene in wanted:
            check_scene(scene)
        ecard = session.scalars(select(ECard).where(
            ECard.sign_no == sign_no, ECard.channel_no == channel_no)).one_or_none()
        if ecard is None:
            raise EcardError("ECARD_NOT_FOUND")
        if ecard.status != "active":
            raise EcardError(_ISSUE_REFUSED.get(ecard.status, "ECARD_NOT_ACTIVE"),
                             details={"status": ecard.status})
        now = self.clock.now().replace(microsecond=0)
        kid, private_key = self.keys.active_signing_key()
        nonce = secrets.token_bytes(NONCE_BYTES)
        code = sign_identity_code(private_key, kid, ecard_index=ecard.status_index,
                                  channel_no=channel_no, now=now, scenes=wanted,
                                  lifetime_s=self.lifetime_s, nonce=nonce)
        jti = base64.urlsafe_b64encode(nonce).decode("ascii")  # 12 bytes: no padding
        expires = now + timedelta(seconds=self.lifetime_s)
        session.execute(delete(IdentityCode).where(
            IdentityCode.expires_at < now - timedelta(seconds=CLEANUP_GRACE_S)))
        try:
            session.add(IdentityCode(jti=jti, ecard_id=ecard.id, issued_at=now,
                                     expires_at=expires, redeemed_at=None, redeemed_by=None))
            session.flush()
        except IntegrityError as exc:  # 96 random bits: a repeat is a broken RNG
            raise RuntimeError("identity code nonce collision") from exc
        return IssuedCode(code=code, kid=kid, scenes=wanted, issued_at=now, expires_at=expires)

    # -- verifying -----------------------------------------------------------
    def verify(self, session: Session, *, channel_no: str, channel_type: str, code: str,
               scene: str, attributes: Iterable[str] | None = None) -> VerifiedCode:
        """Verify, check the e-card now, redeem once, and release the attributes."""
        check_scene(scene)
        claims = self._claims(code)
        if scene not in claims.scenes:
            raise EcardError("CODE_SCENE_MISMATCH", details={
                "scene": scene, "code_scenes": sorted(claims.scenes)})
        ecard = session.scalars(select(ECard).where(
            ECard.status_index == claims.ecard_index)).one_or_none()
        if ecard is None or ecard.channel_no != claims.channel_no:
            raise EcardError("CODE_INVALID")
        if ecard.status != "active":
            raise EcardError(_CODE_REFUSED.get(ecard.status, "CODE_REVOKED"),
                             details={"status": ecard.status})
        release = resolve_release(channel_type, scene, attributes)
        now = self.clock.now()
        redeemed = session.execute(
            update(IdentityCode)
            .where(IdentityCode.jti == claims.jti, IdentityCode.ecard_id == ecard.id,
                   IdentityCode.redeemed_at.is_(None))
            .values(redeemed_at=now, redeemed_by=channel_no))
        if redeemed.rowcount != 1:  # type: ignore[attr-defined]
            exists = session.scalar(select(IdentityCode.jti).where(
                IdentityCode.jti == claims.jti))
            raise EcardError("CODE_ALREADY_REDEEMED" if exists else "CODE_INVALID")
        values = self._values(session, ecard, channel_no, release.attributes)
        session.add(Disclosure(person_id=ecard.person_id, ecard_id=ecard.id,
                               channel_no=channel_no, scene=scene,
                               attributes=list(release.attributes), jti=claims.jti,
                               disclosed_at=now))
        AuditLog(session, self.clock).record(
            Actor("channel", channel_no), "identity_code.redeemed",
            subject=f"person:{ecard.person_id}", channel_no=channel_no, scene=scene,
            details={"attributes": list(release.attributes), "jti": claims.jti,
                     "issuing_channel": ecard.channel_no,
                     "sensitive": sorted(SENSITIVE & set(release.attributes))})
        return VerifiedCode(scene=scene, attributes=values, released=list(release.attributes),
                            issued_at=_from_ts(claims.iat),
                            expires_at=_from_ts(claims.exp), redeemed_at=now)

    def _claims(self, code: str) -> Any:
        now = self.clock.now()
        keys = self.keys.public_keys()
        try:
            return verify_identity_code(code, keys, now=now)
        except ExpiredToken as exc:
            raise EcardError("CODE_EXPIRED", details={
                "expired_at": _from_ts(exc.expired_at).isoformat()}) from exc
        except InvalidToken:
            pass
        # A key rotated on another machine may not be loaded here yet: reload once.
        self.keys.reload()
        try:
            return verify_identity_code(code, self.keys.public_keys(), now=now)
        except ExpiredToken as exc:
            raise EcardError("CODE_EXPIRED") from exc
        except InvalidToken as exc:
            raise EcardError("CODE_INVALID") from exc

    def _values(self, session: Session, ecard: ECard, channel_no: str,
                names: Iterable[str]) -> dict[str, Any]:
        person = session.get_one(Person, ecard.person_id)
        p = self.protector
        out: dict[str, Any] = {}
        for name in names:
            if name == "openid":
                out[name] = p.pseudonym(channel_no, str(person.id))
            elif name == "own_sign_no":
                out[name] = session.scalar(select(ECard.sign_no).where(
                    ECard.person_id == person.id, ECard.channel_no == channel_no,
                    ECard.status == "active"))
            elif name == "name_masked":
                out[name] = person.name_masked
            elif name == "id_masked":
                out[name] = person.id_masked
            elif name == "region":
                card = session.get(PhysicalCard, ecard.card_id)
                out[name] = card.region if card else person.region
            elif name == "ecard_level":
                out[name] = ecard.level
            elif name == "card_no_masked":
                card = session.get(PhysicalCard, ecard.card_id)
                out[name] = mask_card_number(card.card_no) if card else None
            elif name == "name":
                out[name] = p.decrypt_str(person.name_enc, "person.name")
            elif name == "id_number":
                out[name] = p.decrypt_str(person.id_number_enc, "person.id_number")
            elif name == "gender":
                out[name] = person.gender
            elif name == "birth_date":
                out[name] = person.birth_date.isoformat()
            else:  # the policy only names attributes listed above
                raise KeyError(name)
        return out

    # -- the holder's view ---------------------------------------------------
    def list_disclosures(self, session: Session, channel_no: str, sign_no: str, *,
                         limit: int = 50, offset: int = 0) -> list[DisclosureView]:
        """What was released about this holder (every e-card of the person), newest
        first, as the holder sees it through this channel."""
        ecard = session.scalars(select(ECard).where(
            ECard.sign_no == sign_no, ECard.channel_no == channel_no)).one_or_none()
        if ecard is None:
            raise EcardError("ECARD_NOT_FOUND")
        if ecard.status == "unlinked":
            raise EcardError("ECARD_NOT_ACTIVE", details={"status": ecard.status})
        rows = session.execute(
            select(Disclosure, Channel, ECard.channel_no)
            .join(Channel, Channel.channel_no == Disclosure.channel_no)
            .join(ECard, ECard.id == Disclosure.ecard_id)
            .where(Disclosure.person_id == ecard.person_id)
            .order_by(Disclosure.disclosed_at.desc(), Disclosure.id.desc())
            .limit(min(limit, MAX_DISCLOSURES_PAGE)).offset(offset)).all()
        return [DisclosureView(channel_no=d.channel_no, channel_name=ch.name,
                               channel_type=ch.type, scene=d.scene,
                               attributes=list(d.attributes), disclosed_at=d.disclosed_at,
                               shown_in_this_channel=shown_in == channel_no)
                for d, ch, shown_in in rows]
