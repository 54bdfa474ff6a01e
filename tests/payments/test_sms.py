"""Conformance of the SMS gateways: the demo's log-file gateway and the test twin."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ecard.payments.sms import CapturingSmsGateway, LogFileSmsGateway, SmsGateway


@pytest.fixture(params=["logfile", "capturing"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> SmsGateway:
    if request.param == "logfile":
        return LogFileSmsGateway(tmp_path / "instance")
    return CapturingSmsGateway()


def test_gateway_conformance(gateway: SmsGateway) -> None:
    assert isinstance(gateway, SmsGateway)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    gateway.send("13800138000", "验证码123456", sent_at=at)
    gateway.send("13900139000", "验证码654321", sent_at=at, bank_code="CCB")
    messages = gateway.messages()  # type: ignore[attr-defined]
    assert [m.text for m in messages] == ["验证码123456", "验证码654321"]
    assert [m.bank_code for m in messages] == [None, "CCB"]
    assert messages[0].sent_at == at
    assert messages[0].phone.startswith("138") and messages[0].phone.endswith("8000")


def test_logfile_masks_the_phone_in_file_and_log(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    gateway = LogFileSmsGateway(tmp_path)
    with caplog.at_level(logging.INFO, logger="ecard.sms"):
        gateway.send("13800138000", "验证码123456", sent_at=datetime.now(UTC))
    text = (tmp_path / "sms-outbox.log").read_text(encoding="utf-8")
    assert "138****8000" in text and "13800138000" not in text and "123456" in text
    assert "13800138000" not in caplog.text and "138****8000" in caplog.text
