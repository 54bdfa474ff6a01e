from __future__ import annotations

import logging

import pytest

from ecard.logging import MaskingFilter
from ecard.protect import (
    DataProtector,
    DecryptionFailed,
    generate_master_key,
    load_master_key,
    mask_id_number,
    mask_name,
    mask_text,
)


@pytest.fixture
def protector(tmp_path) -> DataProtector:  # type: ignore[no-untyped-def]
    return DataProtector.from_master(load_master_key(generate_master_key(), tmp_path))


def test_round_trip_and_context_binding(protector: DataProtector) -> None:
    blob = protector.encrypt_str("110101195503071237", "person.id_number")
    assert b"110101" not in blob
    assert protector.decrypt_str(blob, "person.id_number") == "110101195503071237"
    with pytest.raises(DecryptionFailed):
        protector.decrypt_str(blob, "person.name")  # moved to another column


def test_tampered_ciphertext_is_refused(protector: DataProtector) -> None:
    blob = bytearray(protector.encrypt_str("secret", "ctx"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        protector.decrypt(bytes(blob), "ctx")


def test_encryption_is_randomised_but_blind_index_is_stable(protector: DataProtector) -> None:
    assert protector.encrypt_str("x", "c") != protector.encrypt_str("x", "c")
    assert protector.blind_index("110101195503071237") == protector.blind_index(
        "110101195503071237")
    assert protector.blind_index("110101195503071237") != protector.blind_index(
        "110101195503071245")


def test_pseudonyms_differ_per_channel(protector: DataProtector) -> None:
    a = protector.pseudonym("1000000001", "42")
    assert a == protector.pseudonym("1000000001", "42")
    assert a != protector.pseudonym("2000000001", "42")


def test_derived_keys_differ_by_purpose(protector: DataProtector) -> None:
    keys = {protector.enc_key, protector.index_key, protector.pseudonym_key, protector.wrap_key}
    assert len(keys) == 4


def test_missing_or_bad_master_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ecard.protect import MasterKeyMissing
    with pytest.raises(MasterKeyMissing, match="ecard init"):
        load_master_key(None, tmp_path)
    with pytest.raises(MasterKeyMissing):
        load_master_key("c2hvcnQ=", tmp_path)


def test_masking() -> None:
    assert mask_id_number("11010119550307123X") == "1101**********123X"
    assert mask_name("张三") == "*三"
    assert mask_name("欧阳娜娜") == "**娜娜"
    assert mask_text("id=110101195503071237 ok") == "id=1101**********1237 ok"
    assert mask_text("order 1234567890123456789012") == "order 1234567890123456789012"


def test_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ecard.test")
    record = logger.makeRecord("ecard.test", logging.INFO, __file__, 1,
                               "holder %s refused", ("110101195503071237",), None)
    MaskingFilter().filter(record)
    assert record.getMessage() == "holder 1101**********1237 refused"
