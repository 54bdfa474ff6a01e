"""EcardClient over real sockets: signing the backend accepts, retries that resign and
keep the Idempotency-Key, capped backoff, Retry-After, typed errors, no answer."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pytest
from ecard_sdk import EcardClient, EcardObject
from ecard_sdk.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConflictError,
    IdempotencyError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from flask import Flask

from ecard import create_app
from ecard.clock import FrozenClock
from ecard.platform import Platform
from tests.channels.conftest import add_channel
from tests.sdk.conftest import MakeClient
from tests.sdk.servers import DROP, FORWARD_THEN_DROP, Answer, FlakyProxy, envelope, serving
from tests.support.channel_client import ChannelIdentity
from tests.support.payments import HOLDER_CH, Card


def claims_of(authorization: str) -> dict[str, Any]:
    payload = authorization.split()[1].split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def test_signed_calls_are_accepted(holder: EcardClient, card: Card) -> None:
    assert holder.ping() == {"ok": True}
    me = holder.channel()
    assert (me.channel_no, me.type, me.status) == (HOLDER_CH, "bank", "online")
    # a GET with a query string (htu carries "?query") and a non-ASCII JSON body (bh
    # covers the exact UTF-8 bytes)
    assert holder.cards.disclosures(card.sign_no, limit=5, offset=0).disclosures == []
    assert holder.request("POST", "/api/v1/ping", json={"名字": "张三"}).ok is True
    assert holder.cards.retrieve(card.sign_no).last_response is not None
    assert {k.kty for k in holder.jwks()["keys"]} == {"EC"}
    assert holder.status_list().count(".") == 2


def test_retry_resigns_and_keeps_the_idempotency_key(
        make_client: MakeClient, holder_ch: ChannelIdentity, proxy: FlakyProxy,
        sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url)
    proxy.play(envelope("INTERNAL_ERROR", 503), DROP)
    assert client.ping().ok is True
    tries = proxy.received
    assert len(tries) == 3
    assert len({t.headers["Idempotency-Key"] for t in tries}) == 1
    jtis = [claims_of(t.headers["Authorization"])["jti"] for t in tries]
    assert len(set(jtis)) == 3  # the platform burns each token: a retry signs anew
    assert sleeps == [0.5, 1.0]


def test_caller_chosen_idempotency_key(make_client: MakeClient, holder_ch: ChannelIdentity,
                                       proxy: FlakyProxy) -> None:
    client = make_client(holder_ch, proxy.base_url)
    proxy.play()
    client.ping(options={"idempotency_key": "order-42-ping"})
    assert proxy.received[0].headers["Idempotency-Key"] == "order-42-ping"
    proxy.play()
    client.channel()
    assert "Idempotency-Key" not in proxy.received[0].headers  # GETs need none


def test_lost_answer_is_replayed_not_redone(make_client: MakeClient, holder: EcardClient,
                                            merchant_ch: ChannelIdentity, card: Card,
                                            proxy: FlakyProxy) -> None:
    """The platform redeemed the code but the answer was lost on the way back: the
    retry (same key) gets the first answer, not CODE_ALREADY_REDEEMED."""
    shown = holder.identity_codes.create(card.sign_no)
    scanner = make_client(merchant_ch, proxy.base_url)
    proxy.play(FORWARD_THEN_DROP)
    seen = scanner.identity_codes.verify(shown.code, "01")
    assert seen.valid is True and seen.attributes.name_masked == "*三"
    assert seen.last_response is not None and seen.last_response.idempotent_replayed
    assert len(proxy.received) == 2
    with pytest.raises(ConflictError) as exc:  # a new request (new key) is refused
        scanner.identity_codes.verify(shown.code, "01")
    assert exc.value.code == "CODE_ALREADY_REDEEMED"


def test_in_progress_conflict_is_retried(make_client: MakeClient, holder_ch: ChannelIdentity,
                                         proxy: FlakyProxy, sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url)
    proxy.play(envelope("IDEMPOTENCY_IN_PROGRESS", 409), envelope("ORDER_IN_PROGRESS", 409))
    assert client.ping().ok is True
    assert len(proxy.received) == 3 and sleeps == [0.5, 1.0]


def test_backoff_doubles_and_is_capped(make_client: MakeClient, holder_ch: ChannelIdentity,
                                       proxy: FlakyProxy, sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url, max_network_retries=7)
    proxy.play(*[Answer(502)] * 7)
    assert client.ping().ok is True
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_jitter_spreads_down_to_half(make_client: MakeClient, holder_ch: ChannelIdentity,
                                     proxy: FlakyProxy, sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url, max_network_retries=5, jitter=lambda: 0.0)
    proxy.play(*[Answer(503)] * 5)
    client.ping()
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.5]


def test_5xx_after_the_last_retry_raises_api_error(
        make_client: MakeClient, holder_ch: ChannelIdentity, proxy: FlakyProxy,
        sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url, max_network_retries=2)
    proxy.play(*[envelope("INTERNAL_ERROR", 500)] * 3)
    with pytest.raises(APIError) as exc:
        client.ping()
    assert (exc.value.http_status, exc.value.code) == (500, "INTERNAL_ERROR")
    assert exc.value.request_id == "proxy-internal_error"
    assert len(proxy.received) == 3 and len(sleeps) == 2
    proxy.play(Answer(502), Answer(502), Answer(502))  # a proxy's HTML page
    with pytest.raises(APIError) as exc:
        client.ping()
    assert exc.value.code is None and exc.value.http_status == 502


def test_retry_after_is_honoured(make_client: MakeClient, holder_ch: ChannelIdentity,
                                 proxy: FlakyProxy, sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url)
    limited = envelope("RATE_LIMITED", 429)
    proxy.play(Answer(429, limited.body, {"Retry-After": "7"}))
    assert client.ping().ok is True
    assert sleeps == [7.0]  # above the 5 s cap: the server knows best
    # longer than the client will block for: raised at once, the wait in the error
    sleeps.clear()
    proxy.play(Answer(429, limited.body, {"Retry-After": "60"}))
    with pytest.raises(RateLimitError) as exc:
        client.ping()
    assert exc.value.retry_after_s == 60.0 and sleeps == [] and len(proxy.received) == 1


def test_sms_limits_are_not_retried(make_client: MakeClient, holder_ch: ChannelIdentity,
                                    proxy: FlakyProxy, sleeps: list[float]) -> None:
    client = make_client(holder_ch, proxy.base_url)
    proxy.play(envelope("SMS_RESEND_TOO_SOON", 429))
    with pytest.raises(RateLimitError) as exc:
        client.ping()
    assert exc.value.code == "SMS_RESEND_TOO_SOON" and sleeps == []


def test_connection_refused_raises_after_retries(make_client: MakeClient,
                                                 holder_ch: ChannelIdentity,
                                                 sleeps: list[float]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(holder_ch, f"http://127.0.0.1:{port}", max_network_retries=3)
    with pytest.raises(APIConnectionError) as exc:
        client.ping()
    assert exc.value.code is None and exc.value.http_status is None
    assert "4 tries" in str(exc.value)
    assert sleeps == [0.5, 1.0, 2.0]


def test_errors_carry_code_message_and_request_id(
        make_client: MakeClient, holder: EcardClient, merchant: EcardClient,
        holder_ch: ChannelIdentity, platform: Platform, card: Card,
        sleeps: list[float]) -> None:
    # 404
    with pytest.raises(NotFoundError) as nf:
        holder.cards.retrieve("110101999999999999")
    assert nf.value.code == "ECARD_NOT_FOUND" and nf.value.http_status == 404
    assert nf.value.message == "No e-card with this sign number exists in your channel."
    assert nf.value.request_id and nf.value.request_id == nf.value.headers["x-request-id"]
    # 401: a key the platform does not know for this channel
    impostor = ChannelIdentity.generate(HOLDER_CH, kid="k1")
    with pytest.raises(AuthenticationError) as auth:
        make_client(impostor).ping()
    assert auth.value.code == "AUTH_BAD_SIGNATURE" and auth.value.request_id
    with pytest.raises(AuthenticationError) as auth:
        make_client(ChannelIdentity.generate(HOLDER_CH, kid="k9")).ping()
    assert auth.value.code == "AUTH_UNKNOWN_KEY"
    # 401 about the holder's input is not the channel's credentials
    with pytest.raises(InvalidRequestError) as pin:
        holder.cards.verify_pin(card.sign_no, "730518")
    assert (pin.value.code, pin.value.http_status) == ("PIN_WRONG", 401)
    # 403: a bank app is not an acquirer
    with pytest.raises(PermissionDeniedError) as denied:
        holder.payments.create(code="81" + "0" * 16, amount_fen=100, order_id="o-1")
    assert denied.value.code == "CHANNEL_NOT_MERCHANT"
    # 409: one key, two different requests
    holder.cards.verify_pin(card.sign_no, "482913", idempotency_key="same-key")
    with pytest.raises(IdempotencyError) as reused:
        holder.cards.verify_pin(card.sign_no, "000000", idempotency_key="same-key")
    assert reused.value.code == "IDEMPOTENCY_KEY_REUSED" and reused.value.http_status == 409
    # 422: with the fields in details
    with pytest.raises(InvalidRequestError) as invalid:
        holder.request("POST", f"/api/v1/cards/{card.sign_no}/pin/verify", json={})
    assert invalid.value.code == "VALIDATION_FAILED"
    assert "pin" in invalid.value.details["fields"]["json"]
    with pytest.raises(InvalidRequestError) as weak:
        holder.cards.verify_pin(card.sign_no, "12")
    assert weak.value.code == "PIN_FORMAT_INVALID"
    # nothing above was retried
    assert sleeps == []
    # the message follows accept_language
    zh = make_client(holder_ch, accept_language="zh")
    with pytest.raises(NotFoundError) as nf_zh:
        zh.cards.retrieve("110101999999999999")
    assert nf_zh.value.message == "未查询到该电子社保卡。"
    assert "ECARD_NOT_FOUND" in str(nf_zh.value) and nf_zh.value.request_id in str(nf_zh.value)


def test_suspended_channel_is_forbidden(make_client: MakeClient, platform: Platform) -> None:
    suspended = add_channel(platform, "2000000002", status="suspended")
    with pytest.raises(PermissionDeniedError) as exc:
        make_client(suspended).ping()
    assert exc.value.code == "CHANNEL_SUSPENDED"


def test_real_rate_limit_raises_typed_error(test_config: dict[str, Any], clock: FrozenClock,
                                            sleeps: list[float]) -> None:
    app: Flask = create_app({**test_config, "RATELIMIT_DEFAULT": "2 per minute"}, clock=clock)
    try:
        identity = add_channel(app.extensions["ecard"], HOLDER_CH)
        with serving(app) as url:
            client = EcardClient(url, HOLDER_CH, identity.private_key, kid="k1",
                                 clock=lambda: clock.now().timestamp(), sleep=sleeps.append,
                                 max_retry_after_s=0)
            client.ping()
            client.ping()
            with pytest.raises(RateLimitError) as exc:
                client.ping()
            client.close()
    finally:
        app.extensions["ecard"].db.dispose()
    assert exc.value.code == "RATE_LIMITED" and exc.value.request_id
    assert exc.value.retry_after_s is not None and 1 <= exc.value.retry_after_s <= 60
    assert sleeps == []


def test_path_parameters_cannot_leave_their_route(holder: EcardClient) -> None:
    for bad in ("../payments", "a/b", "", "x y", "."):
        with pytest.raises(ValueError):
            holder.cards.retrieve(bad)


def test_object_is_a_dict_with_attributes() -> None:
    obj = EcardObject.construct({"a": {"b": [{"c": 1}]}, "n": None})
    assert obj.a.b[0].c == 1 and obj["a"]["b"][0]["c"] == 1
    assert json.loads(json.dumps(obj)) == {"a": {"b": [{"c": 1}]}, "n": None}
    with pytest.raises(AttributeError):
        _ = obj.missing


def test_constructor_refuses_bad_settings(holder_ch: ChannelIdentity) -> None:
    with pytest.raises(ValueError):
        EcardClient("ftp://x", HOLDER_CH, holder_ch.private_key, kid="k1")
    with pytest.raises(ValueError):
        EcardClient("http://x", "123", holder_ch.private_key, kid="k1")
    with pytest.raises(ValueError):
        from cryptography.hazmat.primitives.asymmetric import ec
        EcardClient("http://x", HOLDER_CH, ec.generate_private_key(ec.SECP384R1()), kid="k1")
