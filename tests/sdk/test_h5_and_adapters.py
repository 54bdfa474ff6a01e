"""The SDK's H5 and channel-adapter calls against a real server: certification page
links, the government app's sign-on tickets (accepted once by the backend's own
verifier), payment platforms pairing user ids with PUT, and the retry rules per
HTTP method."""

from __future__ import annotations

from pathlib import Path

import pytest
import urllib3
from ecard_sdk import EcardClient
from ecard_sdk._jws import split_jws
from ecard_sdk.errors import (
    APIConnectionError,
    APIError,
    ConflictError,
    EcardError,
    NotFoundError,
)
from ecard_sdk.h5 import sso_ticket

from ecard.platform import Platform
from tests.certification.helpers import CachingLandmarkEngine, katie_holder
from tests.channels.conftest import add_channel
from tests.payments.conftest import issue_level1
from tests.sdk.conftest import MakeClient
from tests.sdk.servers import DROP, FORWARD_THEN_DROP, FlakyProxy, envelope
from tests.support.channel_client import ChannelIdentity

GOV = "5000000005"
PARTNER = "4000000004"


@pytest.fixture
def gov_ch(platform: Platform) -> ChannelIdentity:
    return add_channel(platform, GOV, type="government", name="示例政务App")


@pytest.fixture
def gov(make_client: MakeClient, gov_ch: ChannelIdentity) -> EcardClient:
    return make_client(gov_ch)


@pytest.fixture
def katie_sign_no(platform: Platform, faces_dir: Path, gov_ch: ChannelIdentity) -> str:
    """katiehill (a pension recipient) holding her e-card in the government app."""
    platform.faces = CachingLandmarkEngine()
    _, sign_no = katie_holder(platform, faces_dir, gov_ch)
    return sign_no


def _page_get(base_url: str, path: str, token: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", base_url + path, headers={"Authorization": f"Bearer {token}"})


def test_create_link_opens_the_page(gov: EcardClient, katie_sign_no: str,
                                    base_url: str) -> None:
    session = gov.certification.start(katie_sign_no, mode="elder")
    link = gov.h5.create_link(session.session_id, return_url="https://app.example.cn/done")
    assert link.last_response is not None and link.last_response.http_status == 201
    assert link.path.startswith(f"/h5/certify/{session.session_id}#t=h5t1.")
    page_path, token = link.path.split("#t=")
    assert urllib3.request("GET", base_url + page_path).status == 200
    view = _page_get(base_url, f"/h5/api/sessions/{session.session_id}", token)
    assert view.status == 200 and view.json()["mode"] == "elder"
    assert view.json()["return_url"].startswith("https://app.example.cn/done?session_id=")
    with pytest.raises(NotFoundError) as missing:
        gov.h5.create_link("cs_nope")
    assert missing.value.code == "SESSION_NOT_FOUND"


def test_sso_ticket_is_accepted_once(gov: EcardClient, katie_sign_no: str) -> None:
    openid = gov.cards.retrieve(katie_sign_no).openid
    ticket = gov.h5.sso_ticket(openid)
    header, claims, _, _ = split_jws(ticket)
    assert header == {"alg": "ES256", "typ": "ecard-h5-ticket+jwt", "kid": "k1"}
    assert (claims["iss"], claims["aud"], claims["sub"]) == (GOV, "ecard-h5", openid)
    assert 0 < claims["exp"] - claims["iat"] <= 120 and claims["jti"]
    h5 = gov.request("POST", "/api/v1/h5/sso", json={"ticket": ticket}, auth=False)
    assert h5.session_token.startswith("H5S1.") and h5.sign_no == katie_sign_no
    assert "HttpOnly" in h5.last_response.headers["set-cookie"]  # type: ignore[union-attr]
    with pytest.raises(EcardError) as reused:
        gov.request("POST", "/api/v1/h5/sso", json={"ticket": ticket}, auth=False)
    assert (reused.value.http_status, reused.value.code) == (401, "H5_TICKET_INVALID")
    # another openid, or the function form with another channel's number: refused too
    for bad in (gov.h5.sso_ticket("someone-else"),
                sso_ticket(gov._signer.private_key, channel_no="5000000006", kid="k1",
                           openid=openid, now_s=int(gov._clock()))):
        with pytest.raises(EcardError) as refused:
            gov.request("POST", "/api/v1/h5/sso", json={"ticket": bad}, auth=False)
        assert refused.value.code == "H5_TICKET_INVALID"


def test_sso_ticket_refuses_what_the_platform_would(gov: EcardClient) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        gov.h5.sso_ticket("o1", ttl_s=121)
    with pytest.raises(ValueError, match="openid"):
        gov.h5.sso_ticket("")
    assert split_jws(gov.h5.sso_ticket("o1", jti="j-1"))[1]["jti"] == "j-1"


@pytest.fixture
def partner_ch(platform: Platform) -> tuple[ChannelIdentity, str]:
    identity = add_channel(platform, PARTNER, type="partner", name="示例支付平台")
    return identity, issue_level1(platform, PARTNER).sign_no


def test_pair_is_a_retried_put(make_client: MakeClient, partner_ch: tuple[ChannelIdentity, str],
                               proxy: FlakyProxy, sleeps: list[float]) -> None:
    identity, sign_no = partner_ch
    direct = make_client(identity)
    first = direct.channel_users.pair(sign_no, "2088-1")
    assert first.last_response is not None and first.last_response.http_status == 201
    assert (first.user_id, first.sign_no, first.channel_no) == ("2088-1", sign_no, PARTNER)
    # the platform paired again but the answer was lost: the PUT is simply repeated
    flaky = make_client(identity, proxy.base_url)
    proxy.play(FORWARD_THEN_DROP)
    again = flaky.channel_users.pair(sign_no, "2088-1")
    assert again.last_response is not None and again.last_response.http_status == 200
    assert [r.method for r in proxy.received] == ["PUT", "PUT"] and len(sleeps) == 1
    assert all("Idempotency-Key" not in r.headers for r in proxy.received)
    with pytest.raises(ConflictError) as taken:
        direct.channel_users.pair(sign_no, "2088-2")
    assert taken.value.code == "CHANNEL_USER_ID_TAKEN"


def test_other_methods_are_not_repeated_after_an_ambiguous_failure(
        make_client: MakeClient, partner_ch: tuple[ChannelIdentity, str],
        proxy: FlakyProxy) -> None:
    """PATCH is neither idempotent nor keyed: after no answer or a 5xx the platform may
    have acted, so the SDK does not send it again; a 429 (nothing done) is retried."""
    identity, _ = partner_ch
    client = make_client(identity, proxy.base_url)
    proxy.play(envelope("INTERNAL", 503))
    with pytest.raises(APIError):
        client.request("PATCH", "/api/v1/ping", json={})
    assert len(proxy.received) == 1 and "Idempotency-Key" not in proxy.received[0].headers
    proxy.play(DROP)
    with pytest.raises(APIConnectionError):
        client.request("PATCH", "/api/v1/ping", json={})
    assert len(proxy.received) == 1
    proxy.play(envelope("RATE_LIMITED", 429), envelope("INTERNAL", 503))
    with pytest.raises(APIError):
        client.request("PATCH", "/api/v1/ping", json={})
    assert len(proxy.received) == 2
