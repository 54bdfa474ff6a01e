"""Government apps (channel types ``ministry`` and ``government``): H5 entry and single
sign-on.

The app opens our H5 page with a one-time ticket it signed with its own channel key
(the key registered for its API calls), so the user does not log in again:

* the ticket is a compact JWS, ES256, header ``kid`` (the channel key id) and
  ``typ: ecard-h5-ticket+jwt``; claims ``iss`` = the channel number, ``aud`` =
  ``"ecard-h5"``, ``sub`` = the user's ``openid`` in that channel, ``iat``, ``exp``
  (at most :data:`TICKET_MAX_TTL_S` after ``iat``) and ``jti`` (1-128 characters);
* we accept it only from a ministry/government channel that may call now, signed by
  one of its active keys, inside its lifetime (clock skew :data:`SKEW_S`), for an
  openid that holds an active e-card in that channel, and only once: the primary key
  of ``h5_ticket_uses`` (channel, jti) decides between racing redemptions on any
  number of processes. Every refusal is the same ``H5_TICKET_INVALID``.
* A redeemed ticket becomes a short H5 session (:data:`SESSION_TTL_S`): a token
  ``H5S1.<payload>.<mac>`` MACed under a key of its own purpose, bound to the channel,
  openid and sign number, answered in the body and as an HttpOnly cookie.

:func:`issue_ticket` is the app's side (what its server runs before opening the page).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from channel_adapters.interfaces import SessionInvalid, TicketInvalid
from channel_adapters.models import H5TicketUse
from ecard.cards.models import ECard
from ecard.channels.interfaces import CALLABLE_STATUSES
from ecard.channels.keys import load_public_pem
from ecard.channels.models import Channel, ChannelKey
from ecard.clock import Clock
from ecard.payments.ledger import insert_ignore
from ecard.protect import DataProtector
from ecard.tokens.attributes import check_scene, entitlement

log = logging.getLogger(__name__)

TICKET_TYP = "ecard-h5-ticket+jwt"
AUDIENCE = "ecard-h5"
TICKET_MAX_TTL_S = 120
SKEW_S = 30
SESSION_TTL_S = 900
SESSION_PREFIX = "H5S1"
SESSION_PURPOSE = "h5_session"
COOKIE = "ecard_h5"
CSRF_PURPOSE = "h5_csrf"
TYPES = frozenset({"ministry", "government"})


def issue_ticket(private_key: ec.EllipticCurvePrivateKey, *, channel_no: str, kid: str,
                 openid: str, now_s: int, ttl_s: int = 60, jti: str | None = None) -> str:
    """The government app's side: a ticket for ``openid`` to open our H5 page."""
    claims = {"iss": channel_no, "aud": AUDIENCE, "sub": openid, "iat": now_s,
              "exp": now_s + ttl_s, "jti": secrets.token_urlsafe(16) if jti is None else jti}
    return jwt.encode(claims, private_key, algorithm="ES256",
                      headers={"kid": kid, "typ": TICKET_TYP})


def csrf_token(protector: DataProtector, session_token: str) -> str:
    """What our own H5 pages echo in ``X-Ecard-CSRF`` on a POST that the session cookie
    authorises: a MAC of the session token under its own purpose, rendered into the
    page by the server. The cookie is SameSite=Strict already; the header also needs a
    value another site cannot read, and forces a CORS preflight on any cross-origin
    attempt."""
    return protector.blind_index(session_token, purpose=CSRF_PURPOSE)


def csrf_ok(protector: DataProtector, session_token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(presented.encode(), csrf_token(protector, session_token).encode())


@dataclass(frozen=True)
class H5Session:
    token: str
    channel_no: str
    openid: str
    sign_no: str
    expires_at: datetime


class _Refused(Exception):
    """Why a ticket was refused (logged, never answered)."""


class GovAppAdapter:
    kind = "gov_app"
    channel_types = TYPES

    def __init__(self, session_ttl_s: int = SESSION_TTL_S) -> None:
        self.session_ttl_s = session_ttl_s

    def attributes(self, channel_type: str, scene: str) -> frozenset[str]:
        return entitlement(channel_type, check_scene(scene))

    def shape_notification(self, session: Session, channel_no: str, event: str,
                           payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    # -- tickets -----------------------------------------------------------------
    def redeem(self, session: Session, clock: Clock, protector: DataProtector,
               ticket: str) -> H5Session:
        """Verify the ticket, spend it, and open an H5 session."""
        try:
            claims, ecard = self._verify(session, clock, ticket)
        except _Refused as exc:
            log.info("h5 ticket refused: %s", exc)
            raise TicketInvalid from None
        now = clock.now()
        expires = datetime.fromtimestamp(claims["exp"], tz=now.tzinfo)
        if not insert_ignore(session, H5TicketUse, {
                "channel_no": ecard.channel_no, "jti": claims["jti"], "openid": ecard.openid,
                "expires_at": expires, "used_at": now}):
            log.info("h5 ticket refused: jti already used")
            raise TicketInvalid
        return self.open_session(protector, now, ecard.channel_no, ecard.openid, ecard.sign_no)

    def _verify(self, session: Session, clock: Clock, ticket: str) -> tuple[dict[str, Any],
                                                                             ECard]:
        try:
            header = jwt.get_unverified_header(ticket)
            unverified = jwt.decode(ticket, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError) as exc:
            raise _Refused("unreadable") from exc
        channel_no, kid = unverified.get("iss"), header.get("kid")
        if header.get("alg") != "ES256" or header.get("typ") != TICKET_TYP or \
                not isinstance(channel_no, str) or not isinstance(kid, str):
            raise _Refused("header or issuer")
        channel = session.get(Channel, channel_no)
        if channel is None or channel.type not in TYPES or \
                channel.status not in CALLABLE_STATUSES:
            raise _Refused("channel not a callable government app")
        pem = session.scalars(select(ChannelKey.public_pem).where(
            ChannelKey.channel_no == channel_no, ChannelKey.kid == kid,
            ChannelKey.status == "active")).first()
        if pem is None:
            raise _Refused("unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                ticket, load_public_pem(pem), algorithms=["ES256"], audience=AUDIENCE,
                issuer=channel_no, options={"require": ["iss", "aud", "sub", "iat", "exp",
                                                        "jti"],
                                            "verify_exp": False, "verify_iat": False,
                                            "verify_nbf": False})
        except jwt.PyJWTError as exc:
            raise _Refused("signature or claims") from exc
        now_s = int(clock.now().timestamp())
        iat, exp, jti, sub = claims["iat"], claims["exp"], claims["jti"], claims["sub"]
        if not (isinstance(iat, int) and isinstance(exp, int) and isinstance(jti, str)
                and isinstance(sub, str) and 1 <= len(jti) <= 128):
            raise _Refused("claim types")
        if iat > now_s + SKEW_S or exp <= now_s or exp - iat > TICKET_MAX_TTL_S:
            raise _Refused("time")
        ecard = session.scalars(select(ECard).where(
            ECard.channel_no == channel_no, ECard.openid == sub,
            ECard.status == "active")).first()
        if ecard is None:
            raise _Refused("no active e-card for this openid")
        return claims, ecard

    # -- H5 sessions ------------------------------------------------------------
    def open_session(self, protector: DataProtector, now: datetime, channel_no: str,
                     openid: str, sign_no: str) -> H5Session:
        expires = now + timedelta(seconds=self.session_ttl_s)
        body = {"c": channel_no, "o": openid, "s": sign_no, "exp": int(expires.timestamp()),
                "sid": secrets.token_urlsafe(12)}
        payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":"))
                                           .encode()).rstrip(b"=").decode()
        mac = protector.blind_index(payload, purpose=SESSION_PURPOSE)
        return H5Session(f"{SESSION_PREFIX}.{payload}.{mac}", channel_no, openid, sign_no,
                         expires)

    @staticmethod
    def check_session(protector: DataProtector, now: datetime, token: str) -> H5Session:
        """The session a token carries, or :class:`SessionInvalid`."""
        try:
            prefix, payload, mac = token.split(".")
            expected = protector.blind_index(payload, purpose=SESSION_PURPOSE)
            if prefix != SESSION_PREFIX or not hmac.compare_digest(mac, expected):
                raise SessionInvalid
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            expires = datetime.fromtimestamp(int(body["exp"]), tz=now.tzinfo)
            if expires <= now:
                raise SessionInvalid
            return H5Session(token, str(body["c"]), str(body["o"]), str(body["s"]), expires)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SessionInvalid from exc
