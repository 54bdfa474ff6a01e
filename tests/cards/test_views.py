from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ecard.cards.models import ECard
from ecard.platform import Platform
from tests.cards.conftest import BANK, GOV
from tests.cards.helpers import GOOD_PIN, OTHER_PIN, signed
from tests.support.channel_client import ChannelIdentity, SignedClient
from tests.support.factories import Holder, passed_session

CARDS = "/api/v1/cards"


@pytest.fixture
def as_bank(app: Flask, bank: ChannelIdentity) -> SignedClient:
    return signed(app.test_client(), bank)


@pytest.fixture
def as_gov(app: Flask, gov: ChannelIdentity) -> SignedClient:
    return signed(app.test_client(), gov)


def _body(holder: Holder, **kw: Any) -> dict[str, Any]:
    body = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def _assert_no_raw_pii(raw: bytes, holder: Holder) -> None:
    text = raw.decode()
    for secret in (holder.id_number, holder.name, holder.card_no,
                   json.dumps(holder.name)[1:-1]):
        assert secret not in text, f"raw PII in a response: {secret!r}"


def _live(platform: Platform, holder: Holder, channel_no: str = BANK,
          purpose: str = "issuance") -> str:
    return passed_session(platform, holder.person_id, channel_no, purpose=purpose)


def test_issue_read_and_already_issued(as_bank: SignedClient, holder: Holder,
                                       cached_platform: Platform) -> None:
    sid = _live(cached_platform, holder)
    res = as_bank.post(CARDS, json=_body(holder, certification_session_id=sid, pin=GOOD_PIN))
    assert res.status_code == 201, res.get_json()
    card = res.get_json()
    assert card["event"] == "issued" and card["level"] == 1 and card["status"] == "active"
    assert card["name_masked"] == "*三" and card["id_masked"].count("*") == 10
    assert card["face_score"] == 0.41
    _assert_no_raw_pii(res.data, holder)

    again = as_bank.post(CARDS, json=_body(holder, certification_session_id=sid,
                                           pin=GOOD_PIN))
    assert again.status_code == 200
    assert again.get_json()["event"] == "already_issued"
    assert again.get_json()["sign_no"] == card["sign_no"]

    got = as_bank.get(f"{CARDS}/{card['sign_no']}")
    assert got.status_code == 200
    assert got.get_json()["openid"] == card["openid"]
    assert "status_explanation" in got.get_json()
    _assert_no_raw_pii(got.data, holder)


def test_refusals_answer_the_envelope_and_write_nothing(
        as_bank: SignedClient, holder: Holder, cached_platform: Platform) -> None:
    res = as_bank.post(CARDS, json=_body(holder, pin=GOOD_PIN),
                       headers={"Accept-Language": "en"})
    assert res.status_code == 422
    body = res.get_json()
    assert body["code"] == "CERTIFICATION_SESSION_REQUIRED"
    assert "face check first" in body["message"] and "刷脸" in body["message_zh"]
    assert body["request_id"]
    _assert_no_raw_pii(res.data, holder)
    res = as_bank.post(CARDS, json=_body(holder, certification_session_id="cs_other",
                                         pin=GOOD_PIN))
    assert (res.status_code, res.get_json()["code"]) == (422, "CERTIFICATION_SESSION_INVALID")
    res = as_bank.post(CARDS, json=_body(holder, name="李四",
                                         certification_session_id=_live(cached_platform,
                                                                        holder)))
    assert (res.status_code, res.get_json()["code"]) == (422, "IDENTITY_MISMATCH")
    # the single image of the old form is refused as an unknown field
    res = as_bank.post(CARDS, json=_body(holder, face_image="x" * 20, pin=GOOD_PIN))
    assert res.get_json()["code"] == "VALIDATION_FAILED"
    with cached_platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ECard)) == 0


def test_shape_errors(as_bank: SignedClient, holder: Holder) -> None:
    res = as_bank.post(CARDS, json=_body(holder, surprise=1))
    assert res.status_code == 422 and res.get_json()["code"] == "VALIDATION_FAILED"
    assert "surprise" in res.get_json()["details"]["fields"]["json"]
    res = as_bank.post(CARDS, json={"name": "张三"})
    assert res.get_json()["code"] == "VALIDATION_FAILED"
    res = as_bank.post(CARDS, json=_body(holder, id_number="12345"))
    assert (res.status_code, res.get_json()["code"]) == (422, "ID_NUMBER_INVALID")


def test_every_endpoint_needs_a_channel_token(client: Any, holder: Holder) -> None:
    for method, path in (("POST", CARDS), ("GET", f"{CARDS}/X"),
                         ("POST", f"{CARDS}/X/unlink"), ("GET", f"{CARDS}/X/channels"),
                         ("GET", f"{CARDS}/X/credential"), ("POST", f"{CARDS}/X/pin/verify"),
                         ("POST", f"{CARDS}/X/pin/reset")):
        res = client.open(path, method=method, json={})
        assert res.status_code == 401, (method, path)
        assert res.get_json()["code"] == "AUTH_MISSING"


def test_relink_unlink_and_the_channel_list(as_bank: SignedClient, as_gov: SignedClient,
                                            holder: Holder, cached_platform: Platform) -> None:
    bank = as_bank.post(CARDS, json=_body(holder, pin=GOOD_PIN, certification_session_id=_live(
        cached_platform, holder))).get_json()
    wrong = as_gov.post(CARDS, json=_body(holder, pin=OTHER_PIN))
    assert (wrong.status_code, wrong.get_json()["code"]) == (401, "PIN_WRONG")
    assert wrong.get_json()["details"] == {"remaining_attempts": 5}
    gov_res = as_gov.post(CARDS, json=_body(holder, pin=GOOD_PIN))
    assert gov_res.status_code == 201
    gov = gov_res.get_json()
    assert gov["event"] == "relinked" and gov["openid"] != bank["openid"]

    # another channel's sign number is unknown here
    assert as_gov.get(f"{CARDS}/{bank['sign_no']}").get_json()["code"] == "ECARD_NOT_FOUND"

    listing = as_bank.get(f"{CARDS}/{bank['sign_no']}/channels")
    assert listing.status_code == 200
    rows = listing.get_json()["channels"]
    assert {r["channel_no"] for r in rows} == {BANK, GOV}
    assert gov["sign_no"].encode() not in listing.data
    assert gov["openid"].encode() not in listing.data

    res = as_gov.post(f"{CARDS}/{gov['sign_no']}/unlink", json={"pin": GOOD_PIN})
    assert res.status_code == 200 and res.get_json()["status"] == "unlinked"
    assert as_bank.get(f"{CARDS}/{bank['sign_no']}").get_json()["status"] == "active"
    rows = as_bank.get(f"{CARDS}/{bank['sign_no']}/channels").get_json()["channels"]
    assert [r["channel_no"] for r in rows] == [BANK]
    res = as_gov.get(f"{CARDS}/{gov['sign_no']}/credential")
    assert (res.status_code, res.get_json()["code"]) == (409, "ECARD_NOT_ACTIVE")


def test_pin_verify_and_reset_with_a_pin_reset_session(
        as_bank: SignedClient, holder: Holder, cached_platform: Platform) -> None:
    card = as_bank.post(CARDS, json=_body(holder, pin=GOOD_PIN, certification_session_id=_live(
        cached_platform, holder))).get_json()
    verify = f"{CARDS}/{card['sign_no']}/pin/verify"
    assert as_bank.post(verify, json={"pin": GOOD_PIN}).get_json() == {
        "verified": True, "sign_no": card["sign_no"]}
    assert as_bank.post(verify, json={"pin": "12"}).get_json()["code"] == "PIN_FORMAT_INVALID"
    reset = f"{CARDS}/{card['sign_no']}/pin/reset"
    res = as_bank.post(reset, json={"new_pin": OTHER_PIN})
    assert res.get_json()["code"] == "CERTIFICATION_SESSION_REQUIRED"
    issuance = _live(cached_platform, holder)  # a session for another step
    res = as_bank.post(reset, json={"certification_session_id": issuance,
                                    "new_pin": OTHER_PIN})
    assert (res.get_json()["code"], res.get_json()["details"]) == (
        "CERTIFICATION_SESSION_INVALID", {"reason": "other_purpose"})
    sid = _live(cached_platform, holder, purpose="pin_reset")
    res = as_bank.post(reset, json={"certification_session_id": sid, "new_pin": "111111"})
    assert res.get_json()["code"] == "PIN_TOO_WEAK"  # refused: the session stays unspent
    res = as_bank.post(reset, json={"certification_session_id": sid, "new_pin": OTHER_PIN})
    assert res.status_code == 200, res.get_json()
    assert as_bank.post(verify, json={"pin": OTHER_PIN}).status_code == 200
    assert as_bank.post(verify, json={"pin": GOOD_PIN}).get_json()["code"] == "PIN_WRONG"
    again = as_bank.post(reset, json={"certification_session_id": sid, "new_pin": "730529"})
    assert again.get_json()["details"] == {"reason": "used"}


def test_openapi_lists_the_card_endpoints(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/api/v1/cards", "/api/v1/cards/{sign_no}", "/api/v1/cards/{sign_no}/unlink",
                 "/api/v1/cards/{sign_no}/channels", "/api/v1/cards/{sign_no}/credential",
                 "/api/v1/cards/{sign_no}/pin/verify", "/api/v1/cards/{sign_no}/pin/reset"):
        assert path in spec["paths"], path
