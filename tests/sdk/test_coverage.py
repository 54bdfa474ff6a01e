"""Every channel-authenticated route of the platform has an SDK method: the OpenAPI
document's operations marked ``channelJWT`` against the table below. A new route
fails this test until the SDK (and sdk/README.md) gains its method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecard_sdk import EcardClient
from flask import Flask

from tests.sdk.conftest import MakeClient
from tests.support.channel_client import ChannelIdentity

SDK_METHODS = {
    ("GET", "/api/v1/channel"): "channel",
    ("POST", "/api/v1/ping"): "ping",
    ("POST", "/api/v1/cards"): "cards.issue",
    ("GET", "/api/v1/cards/{sign_no}"): "cards.retrieve",
    ("POST", "/api/v1/cards/{sign_no}/unlink"): "cards.unlink",
    ("GET", "/api/v1/cards/{sign_no}/channels"): "cards.list_channels",
    ("GET", "/api/v1/cards/{sign_no}/credential"): "cards.credential",
    ("POST", "/api/v1/cards/{sign_no}/pin/verify"): "cards.verify_pin",
    ("POST", "/api/v1/cards/{sign_no}/pin/reset"): "cards.reset_pin",
    ("GET", "/api/v1/cards/{sign_no}/disclosures"): "cards.disclosures",
    ("POST", "/api/v1/cards/{sign_no}/identity-code"): "identity_codes.create",
    ("POST", "/api/v1/identity-codes/verify"): "identity_codes.verify",
    ("POST", "/api/v1/cards/{sign_no}/payment/sms"): "payments.request_sms",
    ("POST", "/api/v1/cards/{sign_no}/payment/enable"): "payments.enable",
    ("POST", "/api/v1/payments"): "payments.create",
    ("GET", "/api/v1/payments/{payment_id}"): "payments.retrieve",
    ("GET", "/api/v1/cards/{sign_no}/payments/pending"): "payments.list_pending",
    ("POST", "/api/v1/cards/{sign_no}/payments/{payment_id}/confirm"): "payments.confirm",
    ("POST", "/api/v1/payments/{payment_id}/refunds"): "refunds.create",
    ("POST", "/api/v1/merchant-orders"): "merchant_orders.create",
    ("POST", "/api/v1/cards/{sign_no}/merchant-orders/lookup"): "merchant_orders.lookup",
    ("POST", "/api/v1/cards/{sign_no}/merchant-orders/pay"): "merchant_orders.pay",
    ("POST", "/api/v1/certification/sessions"): "certification.start",
    ("POST", "/api/v1/certification/sessions/{session_id}/frames"): "certification.submit",
    ("POST", "/api/v1/h5/links"): "h5.create_link",
    ("PUT", "/api/v1/channel-users/{sign_no}"): "channel_users.pair",
}


def channel_routes(app: Flask) -> set[tuple[str, str]]:
    spec: dict[str, Any] = app.test_client().get("/api/openapi.json").get_json()
    base = spec.get("servers", [{}])[0].get("url", "") if spec.get("servers") else ""
    found = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if isinstance(op, dict) and any("channelJWT" in s for s in op.get("security", [])):
                found.add((method.upper(), base + path))
    return found


def test_every_channel_route_has_an_sdk_method(app: Flask, make_client: MakeClient,
                                               holder_ch: ChannelIdentity) -> None:
    routes = channel_routes(app)
    assert routes == set(SDK_METHODS), (sorted(routes - set(SDK_METHODS)),
                                        sorted(set(SDK_METHODS) - routes))
    client: EcardClient = make_client(holder_ch)
    readme = (Path(__file__).parents[2] / "sdk" / "README.md").read_text(encoding="utf-8")
    for name in SDK_METHODS.values():
        target: Any = client
        for part in name.split("."):
            target = getattr(target, part)
        assert callable(target) and target.__doc__ and ">>>" in target.__doc__, name
        assert f".{name.rsplit('.', 1)[-1]}(" in readme, f"{name} is not in sdk/README.md"
