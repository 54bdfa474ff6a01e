"""Resource groups for the platform's H5 pages and the channel adapters:
``client.h5`` (certification page links, government-app sign-on tickets) and
``client.channel_users`` (a payment platform's own user ids)."""

from __future__ import annotations

from ecard_sdk._http import RequestOptions
from ecard_sdk._object import EcardObject
from ecard_sdk.h5 import DEFAULT_TICKET_TTL_S, sso_ticket
from ecard_sdk.resources import _fields, _Resource, _seg


class H5(_Resource):
    """The platform's H5 pages, opened in the channel app's web view."""

    def create_link(self, session_id: str, return_url: str | None = None, *,
                    idempotency_key: str | None = None,
                    options: RequestOptions | None = None) -> EcardObject:
        """The platform's certification page for an open session this channel started
        (:meth:`~ecard_sdk.resources.Certification.start`): ``url`` (open it at top level
        in the web view), ``path`` and ``expires_at`` (the session's deadline). The
        token rides in the URL fragment. The page's back button goes to
        ``return_url?session_id=…&result=passed|failed[&next_step=…]``.

        >>> session = client.certification.start(sign_no, mode="elder")     # doctest: +SKIP
        >>> link = client.h5.create_link(session.session_id,
        ...                              return_url="https://app.example.cn/done")  # doctest: +SKIP
        >>> link.url                                                      # doctest: +SKIP
        'https://ecard.example.gov.cn/h5/certify/cs_…#t=h5t1.…'
        """
        return self._post("/h5/links", _fields(session_id=session_id, return_url=return_url),
                          options, idempotency_key)

    def sso_ticket(self, openid: str, *, ttl_s: int = DEFAULT_TICKET_TTL_S,
                   jti: str | None = None) -> str:
        """A government app's one-time sign-on ticket for ``openid`` (the holder in this
        channel, ``cards.retrieve(sign_no).openid``), signed here with the client's
        key and ``kid`` at the client's clock; no network call. Open
        ``<platform>/h5/sso#ticket=<ticket>`` in the web view (the page redeems it
        and shows the holder's H5 home), or post it to ``POST /api/v1/h5/sso``.
        Valid ``ttl_s`` (≤ 120) seconds, redeemable once.

        >>> ticket = client.h5.sso_ticket(card.openid)                     # doctest: +SKIP
        >>> webview.open(f"{client.base_url}/h5/sso#ticket={ticket}")     # doctest: +SKIP
        """
        signer = self._client._signer
        return sso_ticket(signer.private_key, channel_no=signer.channel_no, kid=signer.kid,
                          openid=openid, now_s=int(self._client._clock()), ttl_s=ttl_s,
                          jti=jti)


class ChannelUsers(_Resource):
    """A payment platform's own user ids, paired with its holders' openids."""

    def pair(self, sign_no: str, user_id: str, *,
             options: RequestOptions | None = None) -> EcardObject:
        """Pair the platform's ``user_id`` with the holder of ``sign_no`` (one to one in
        the channel); notifications then carry ``user_id`` beside ``openid``. A PUT:
        the same pair again is answered 200 (``last_response.http_status``; 201 the
        first time), so retries need no idempotency key. Another pairing of either
        side is ``CHANNEL_USER_ID_TAKEN``.

        >>> client.channel_users.pair(sign_no, "2088102146225135").user_id   # doctest: +SKIP
        '2088102146225135'
        """
        return self._put(f"/channel-users/{_seg('sign_no', sign_no)}", {"user_id": user_id},
                         options)
