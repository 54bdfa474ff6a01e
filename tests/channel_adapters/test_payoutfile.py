"""The payout file format: what it looks like byte for byte, and the bank-side reader
refusing every kind of tampering (format, count, control sum, digest, signature)."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest

from channel_adapters.interfaces import PayoutFileInvalid
from channel_adapters.payoutfile import (
    PayoutFile,
    PayoutRecord,
    file_name,
    read_payout_file,
    render,
    sign,
)
from ecard.platform import Platform

DAY = date(2026, 12, 3)


def sample() -> PayoutFile:
    return PayoutFile("ICBC", DAY, 7, "20261203230501", (
        PayoutRecord(1, "SUSPEND", "11", "6222020200998877665", "王五", date(2026, 12, 2),
                     0, 0),
        PayoutRecord(2, "REINSTATE", "12", "6222020200998877666", "赵六", DAY, 0, 0),
        PayoutRecord(3, "BACKPAY", "12", "6222020200998877666", "赵六", DAY, 3, 900000),
        PayoutRecord(4, "STOP", "13", "6222020200998877667", "孙七", date(2026, 11, 30),
                     0, 0)))


def retrail(data: bytes) -> bytes:
    """Recompute the trailer's digest after an edit (a forger who knows the format)."""
    body = data[:data.rindex(b"T|")]
    last = data[data.rindex(b"T|"):].decode().split("|")
    return body + f"T|{last[1]}|{last[2]}|{hashlib.sha256(body).hexdigest()}\n".encode()


def test_the_exact_bytes_of_a_file() -> None:
    data = render(sample())
    lines = data.decode().split("\n")
    assert lines[0] == "H|ECPAYOUT|1|ICBC|20261203|000007|20261203230501|4|900000"
    assert lines[1] == "D|1|SUSPEND|11|6222020200998877665|王五|20261202|0|0"
    assert lines[3] == "D|3|BACKPAY|12|6222020200998877666|赵六|20261203|3|900000"
    body = "\n".join(lines[:5]).encode() + b"\n"
    assert lines[5] == f"T|4|900000|{hashlib.sha256(body).hexdigest()}"
    assert lines[6] == "" and data.endswith(b"\n") and b"\r" not in data
    assert file_name("ICBC", DAY, 7) == "ECPAYOUT_ICBC_20261203_000007.txt"


def test_signed_file_reads_back(platform: Platform) -> None:
    payout = sample()
    data = render(payout)
    sig = sign(platform.keyring, payout, data, 1_800_000_000)
    read = read_payout_file(data, sig, jwks=platform.keyring.jwks(), bank_code="ICBC")
    assert read == payout
    assert (read.record_count, read.control_sum_fen) == (4, 900000)


def test_an_empty_day_is_a_valid_file() -> None:
    payout = PayoutFile("ICBC", DAY, 1, "20261203230501", ())
    read = read_payout_file(render(payout), None, jwks=None)
    assert read.records == () and read.control_sum_fen == 0


def _edit(data: bytes, old: str, new: str) -> bytes:
    assert old.encode() in data
    return data.replace(old.encode(), new.encode(), 1)


@pytest.mark.parametrize(("tamper", "reason"), [
    (lambda d: _edit(d, "|3|900000\n", "|3|990000\n"), "control sum"),
    (lambda d: retrail(_edit(d, "|3|900000\n", "|3|990000\n")), "control sum"),
    (lambda d: retrail(_edit(retrail(d), "D|4|STOP|13|6222020200998877667|孙七|20261130|0|0\n",
                             "")), "record count"),
    (lambda d: _edit(d, "王五", "王伍"), "digest"),
    (lambda d: retrail(_edit(d, "D|2|", "D|5|")), "sequence number"),
    (lambda d: retrail(_edit(d, "|SUSPEND|", "|PAYALL|")), "kind"),
    (lambda d: retrail(_edit(d, "6222020200998877665", "62220202")), "account"),
    (lambda d: retrail(_edit(d, "20261202", "20261302")), "date"),
    (lambda d: d.replace(b"\n", b"\r\n"), "LF"),
    (lambda d: d[:-1], "LF"),
    (lambda d: b"\xff" + d, "UTF-8"),
    (lambda d: retrail(_edit(d, "H|ECPAYOUT|1|", "H|ECPAYOUT|2|")), "version"),
    (lambda d: retrail(_edit(d, "|3|900000\n", "|0|900000\n")), "BACKPAY"),
    (lambda d: retrail(_edit(d, "D|1|SUSPEND|11|6222020200998877665|王五|20261202|0|0",
                             "D|1|SUSPEND|11|6222020200998877665|王五|20261202|1|0")),
     "months 0"),
])
def test_the_reader_refuses_a_tampered_file(tamper: Any, reason: str) -> None:
    data = render(sample())
    with pytest.raises(PayoutFileInvalid, match=reason):
        read_payout_file(tamper(data), None, jwks=None)


def test_a_backpay_must_follow_its_reinstatement() -> None:
    payout = PayoutFile("ICBC", DAY, 1, "20261203230501", (
        PayoutRecord(1, "BACKPAY", "12", "6222020200998877666", "赵六", DAY, 3, 900000),))
    with pytest.raises(PayoutFileInvalid, match="BACKPAY not right after"):
        read_payout_file(render(payout), None, jwks=None)


def test_the_signature_must_cover_this_exact_file(platform: Platform) -> None:
    payout = sample()
    data = render(payout)
    jwks = platform.keyring.jwks()
    sig = sign(platform.keyring, payout, data, 1_800_000_000)
    # a consistent forgery (trailer recomputed) still fails: the signature names the hash
    forged = retrail(_edit(data, "6222020200998877665", "6222020200000000001"))
    with pytest.raises(PayoutFileInvalid, match="fh differs"):
        read_payout_file(forged, sig, jwks=jwks, bank_code="ICBC")
    with pytest.raises(PayoutFileInvalid, match="does not verify"):
        read_payout_file(data, sig[:-4] + "AAAA", jwks=jwks, bank_code="ICBC")
    with pytest.raises(PayoutFileInvalid, match="file differs"):
        read_payout_file(data, sig, jwks=jwks, bank_code="ICBC", name="renamed.txt")
    with pytest.raises(PayoutFileInvalid, match="not this bank"):
        read_payout_file(data, sig, jwks=jwks, bank_code="ABC")
    with pytest.raises(PayoutFileInvalid, match="both needed"):
        read_payout_file(data, None, jwks=jwks)
    other = PayoutFile("ICBC", DAY, 8, payout.created, payout.records)
    with pytest.raises(PayoutFileInvalid, match="does not cover"):
        read_payout_file(data, sign(platform.keyring, other, data, 1_800_000_000), jwks=jwks)
    with pytest.raises(PayoutFileInvalid, match="does not verify"):
        read_payout_file(data, sig, jwks={"keys": []})


def test_the_writer_refuses_fields_that_would_break_the_format() -> None:
    bad = PayoutFile("ICBC", DAY, 1, "20261203230501", (
        PayoutRecord(1, "SUSPEND", "11", "6222020200998877665", "王|五", DAY, 0, 0),))
    with pytest.raises(ValueError, match="may not contain"):
        render(bad)
    gap = PayoutFile("ICBC", DAY, 1, "20261203230501", (
        PayoutRecord(2, "SUSPEND", "11", "6222020200998877665", "王五", DAY, 0, 0),))
    with pytest.raises(ValueError, match="numbered"):
        render(gap)
