"""The government app's side of single sign-on into the platform's H5 pages.

The app's server signs a one-time ticket with its channel key (the key it signs API
calls with) and opens ``<platform>/h5/sso#ticket=<ticket>`` in its web view, or
posts it to ``POST /api/v1/h5/sso``; the platform answers a 15-minute H5 session.
The ticket is what the platform checks (``channel_adapters/gov_app.py``):

* a compact JWS, ES256, header ``{"alg": "ES256", "typ": "ecard-h5-ticket+jwt",
  "kid"}``;
* claims ``iss`` = the channel number, ``aud`` = ``"ecard-h5"``, ``sub`` = the user's
  ``openid`` in this channel, ``iat``, ``exp`` (at most 120 s after ``iat``) and a
  one-time ``jti`` (1-128 characters): a ticket is redeemed once, ever.

>>> from ecard_sdk.h5 import sso_ticket
>>> ticket = sso_ticket(private_key, channel_no="5000000005", kid="k1",
...                     openid=openid, now_s=int(time.time()))   # doctest: +SKIP
"""

from __future__ import annotations

import secrets

from ecard_sdk._jws import json_segment, sign_es256
from ecard_sdk._signing import PrivateKeyInput, load_private_key

TICKET_TYP = "ecard-h5-ticket+jwt"
AUDIENCE = "ecard-h5"
MAX_TICKET_TTL_S = 120  # the platform refuses a longer-lived ticket
DEFAULT_TICKET_TTL_S = 60


def sso_ticket(private_key: PrivateKeyInput, *, channel_no: str, kid: str, openid: str,
               now_s: int, ttl_s: int = DEFAULT_TICKET_TTL_S, jti: str | None = None) -> str:
    """A one-time sign-on ticket for ``openid`` (the holder as this channel sees them:
    ``cards.retrieve(...).openid``), valid ``ttl_s`` seconds from ``now_s``.

    >>> sso_ticket(key, channel_no="5000000005", kid="k1", openid="o_…",
    ...            now_s=1767225600).count(".")                     # doctest: +SKIP
    2
    """
    if not 0 < ttl_s <= MAX_TICKET_TTL_S:
        raise ValueError(f"ttl_s must be 1..{MAX_TICKET_TTL_S} seconds")
    if not openid:
        raise ValueError("openid is required")
    if jti is not None and not 1 <= len(jti) <= 128:
        raise ValueError("jti must be 1-128 characters")
    claims = {"iss": channel_no, "aud": AUDIENCE, "sub": openid, "iat": int(now_s),
              "exp": int(now_s) + ttl_s,
              "jti": secrets.token_urlsafe(16) if jti is None else jti}
    header = json_segment({"alg": "ES256", "typ": TICKET_TYP, "kid": kid})
    return sign_es256(load_private_key(private_key), header, claims)
