from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from ecard.cards.models import ECard
from ecard.http.idempotency import REPLAYED_HEADER, check_key, request_hash
from ecard.http.models import IdempotencyRecord
from ecard.notifications.models import Notification
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN, OTHER_PIN, make_channel
from tests.support.channel_client import SignedClient
from tests.support.factories import Holder, make_holder, make_id_number, passed_session

CARDS = "/api/v1/cards"
BANK, GOV = "1000000001", "2000000002"


@pytest.fixture
def as_bank(app: Flask, cached_platform: Platform) -> SignedClient:
    return SignedClient(app.test_client(), make_channel(cached_platform, BANK))


@pytest.fixture
def as_gov(app: Flask, cached_platform: Platform) -> SignedClient:
    return SignedClient(app.test_client(), make_channel(cached_platform, GOV))


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def _records(platform: Platform) -> list[IdempotencyRecord]:
    with platform.db.session() as session:
        return list(session.scalars(select(IdempotencyRecord)))


def _unknown_person() -> dict[str, str]:
    return {"name": "张三", "id_number": make_id_number("110101", "19600101", "011"),
            "card_no": "A12345678", "pin": GOOD_PIN}


def test_a_retried_issuance_gets_the_first_answer(as_bank: SignedClient, cached_platform: Platform,
                                                  faces_dir: Path) -> None:
    holder = make_holder(cached_platform, photo=faces_dir / "people/person_04/img1.jpg")
    body = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
            "certification_session_id": passed_session(cached_platform, holder.person_id, BANK),
            "pin": GOOD_PIN}
    first = as_bank.post(CARDS, json=body, headers=_key("issue-0001"))
    assert first.status_code == 201 and REPLAYED_HEADER not in first.headers
    again = as_bank.post(CARDS, json=body, headers=_key("issue-0001"))
    assert again.status_code == 201  # the stored answer, not "already issued" (200)
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.get_json() == first.get_json()
    with cached_platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ECard)) == 1
        assert session.scalar(select(func.count()).select_from(Notification)) == 1
    # without the key the same request is a new request: "already issued"
    plain = as_bank.post(CARDS, json=body)
    assert plain.status_code == 200 and plain.get_json()["event"] == "already_issued"


def test_client_errors_are_stored_and_replayed(as_bank: SignedClient,
                                               cached_platform: Platform) -> None:
    first = as_bank.post(CARDS, json=_unknown_person(), headers=_key("k-404"))
    assert (first.status_code, first.get_json()["code"]) == (404, "PERSON_NOT_FOUND")
    again = as_bank.post(CARDS, json=_unknown_person(), headers=_key("k-404"))
    assert again.status_code == 404 and again.headers[REPLAYED_HEADER] == "true"
    assert again.get_json()["code"] == "PERSON_NOT_FOUND"
    shape = as_bank.post(CARDS, json={"name": "x"}, headers=_key("k-422"))
    assert shape.status_code == 422
    replay = as_bank.post(CARDS, json={"name": "x"}, headers=_key("k-422"))
    assert replay.headers[REPLAYED_HEADER] == "true"
    assert replay.get_json()["code"] == "VALIDATION_FAILED"
    assert {(r.key, r.status_code) for r in _records(cached_platform)} == {("k-404", 404),
                                                                     ("k-422", 422)}


def test_same_key_other_body_is_refused(as_bank: SignedClient) -> None:
    as_bank.post(CARDS, json=_unknown_person(), headers=_key("k-1"))
    other = dict(_unknown_person(), name="李四")
    res = as_bank.post(CARDS, json=other, headers=_key("k-1"))
    assert (res.status_code, res.get_json()["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    res = as_bank.post(f"{CARDS}/S1/unlink", json=_unknown_person(), headers=_key("k-1"))
    assert res.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"  # another path


def test_keys_belong_to_one_channel(as_bank: SignedClient, as_gov: SignedClient,
                                    cached_platform: Platform) -> None:
    as_bank.post(CARDS, json=_unknown_person(), headers=_key("shared"))
    res = as_gov.post(CARDS, json=dict(_unknown_person(), name="李四"), headers=_key("shared"))
    assert res.get_json()["code"] == "PERSON_NOT_FOUND" and REPLAYED_HEADER not in res.headers
    assert sorted(r.channel_no for r in _records(cached_platform)) == [BANK, GOV]


def _claim(platform: Platform, key: str, body: dict[str, Any], age_s: int) -> None:
    import json
    with platform.db.transaction() as session:
        session.add(IdempotencyRecord(
            channel_no=BANK, key=key,
            request_hash=request_hash("POST", CARDS, json.dumps(body).encode()),
            status_code=None, response_body=None,
            created_at=platform.clock.now() - timedelta(seconds=age_s)))


def test_a_duplicate_while_the_first_runs_is_told_to_wait(as_bank: SignedClient,
                                                          cached_platform: Platform) -> None:
    _claim(cached_platform, "in-flight", _unknown_person(), age_s=1)
    res = as_bank.post(CARDS, json=_unknown_person(), headers=_key("in-flight"))
    assert (res.status_code, res.get_json()["code"]) == (409, "IDEMPOTENCY_IN_PROGRESS")


def test_a_claim_abandoned_by_a_dead_process_is_taken_over(as_bank: SignedClient,
                                                           cached_platform: Platform) -> None:
    _claim(cached_platform, "orphan", _unknown_person(), age_s=600)
    res = as_bank.post(CARDS, json=_unknown_person(), headers=_key("orphan"))
    assert res.get_json()["code"] == "PERSON_NOT_FOUND"
    assert [r.status_code for r in _records(cached_platform)] == [404]


def test_401_and_5xx_answers_are_not_stored(as_bank: SignedClient, cached_platform: Platform,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    holder: Holder = make_holder(cached_platform)
    from ecard.cards.pin import PinService
    with cached_platform.db.transaction() as session:
        PinService(cached_platform.clock).set_initial(
            session, holder.person_id, GOOD_PIN)
    body = {"name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
            "pin": OTHER_PIN}
    res = as_bank.post(CARDS, json=body, headers=_key("wrong-pin"))
    assert (res.status_code, res.get_json()["code"]) == (401, "PIN_WRONG")
    assert _records(cached_platform) == []  # a retry with the right PIN may succeed

    from ecard.cards import services

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.CardService, "issue_card", boom)
    res = as_bank.post(CARDS, json=_unknown_person(), headers=_key("fault"))
    assert (res.status_code, res.get_json()["code"]) == (500, "INTERNAL_ERROR")
    assert _records(cached_platform) == []


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\there", "ключ"])
def test_malformed_keys_are_refused(as_bank: SignedClient, key: str) -> None:
    res = as_bank.post(CARDS, json=_unknown_person(), headers=_key(key))
    assert (res.status_code, res.get_json()["code"]) == (400, "IDEMPOTENCY_KEY_INVALID")


def test_key_rules() -> None:
    assert check_key("x" * 128) == "x" * 128
    assert check_key("550e8400-e29b-41d4-a716-446655440000")
    assert request_hash("POST", "/a", b"{}") != request_hash("POST", "/a", b"{} ")
    assert request_hash("POST", "/a", b"") != request_hash("POST", "/b", b"")
