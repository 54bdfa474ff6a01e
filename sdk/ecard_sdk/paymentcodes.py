"""The device side of payment codes (付款码), with no network.

An 18-digit code: ``81`` + the device's 9-digit slot + a 7-digit TOTP (RFC 6238 with
HMAC-SHA256, 30-second steps from the Unix epoch, RFC 4226 dynamic truncation). The
platform accepts the step before and after its own, so a code lives at most 60 s
and once redeemed is dead. The secret and the slot come once, in the answer to
:meth:`ecard_sdk.resources.Payments.enable`; keep the secret in the device's secure
storage (Keychain / Android Keystore), never in logs.

>>> gen = PaymentCodeGenerator(bytes(range(32)), 123456789)
>>> gen.code_at_time(1_767_225_600)[:11]
'81123456789'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any

PREFIX = "81"
SLOT_DIGITS = 9
MAC_DIGITS = 7
CODE_DIGITS = len(PREFIX) + SLOT_DIGITS + MAC_DIGITS
STEP_S = 30
MIN_SECRET_BYTES = 16
# What the platform announces in ``code_format``; a generator refuses any other.
CODE_FORMAT = {"digits": CODE_DIGITS, "prefix": PREFIX, "slot_digits": SLOT_DIGITS,
               "mac_digits": MAC_DIGITS, "step_s": STEP_S}


def _hotp_sha256(secret: bytes, counter: int, digits: int) -> str:
    mac = hmac.new(secret, counter.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


class PaymentCodeGenerator:
    """Makes the codes of one enrolled device.

    ``device_secret``: the enrolment's ``device_secret`` (base64 text) or its raw
    bytes; ``device_slot``: its ``device_slot``; ``clock``: the Unix time for
    :meth:`now` (inject one in tests).

    >>> gen = PaymentCodeGenerator("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 42)
    >>> len(gen.code_at_time(1_767_225_600)), gen.code_at_time(1_767_225_600)[:11]
    (18, '81000000042')
    """

    __slots__ = ("_clock", "_secret", "device_slot")

    def __init__(self, device_secret: str | bytes, device_slot: int, *,
                 clock: Callable[[], float] = time.time) -> None:
        if isinstance(device_secret, str):
            try:
                device_secret = base64.b64decode(device_secret, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError("device_secret must be the enrolment's base64 text") from exc
        if len(device_secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the device secret must be at least {MIN_SECRET_BYTES} bytes")
        if isinstance(device_slot, bool) or not isinstance(device_slot, int) or \
                not 0 <= device_slot < 10**SLOT_DIGITS:
            raise ValueError(f"device_slot must be an integer of at most {SLOT_DIGITS} digits")
        self._secret = bytes(device_secret)
        self.device_slot = device_slot
        self._clock = clock

    @classmethod
    def from_enrolment(cls, enrolment: Mapping[str, Any], *,
                       clock: Callable[[], float] = time.time) -> PaymentCodeGenerator:
        """The generator for the answer of ``client.payments.enable(...)``; refuses a
        ``code_format`` other than the one implemented here (an SDK too old).

        >>> enrolment = client.payments.enable(sign_no, sms_code=code,
        ...                                    device_id="phone-1")   # doctest: +SKIP
        >>> PaymentCodeGenerator.from_enrolment(enrolment).now()     # doctest: +SKIP
        '810004217735082614'
        """
        announced = enrolment.get("code_format") or {}
        for name, value in CODE_FORMAT.items():
            if name in announced and announced[name] != value:
                raise ValueError(f"the platform's payment-code format ({name}="
                                 f"{announced[name]!r}) is not the one this SDK makes; "
                                 "upgrade ecard-sdk")
        algorithm = str(announced.get("algorithm", "TOTP-HMAC-SHA256"))
        if "SHA256" not in algorithm.upper().replace("-", ""):
            raise ValueError(f"unsupported payment-code algorithm {algorithm!r}")
        return cls(enrolment["device_secret"], int(enrolment["device_slot"]), clock=clock)

    def code_at_time(self, t: float) -> str:
        """The code this device shows at Unix time ``t`` (seconds).

        >>> PaymentCodeGenerator(b"1" * 16, 7).code_at_time(59)[:11]
        '81000000007'
        """
        if t < 0:
            raise ValueError("t must be a Unix time in seconds, not before 1970")
        mac = _hotp_sha256(self._secret, int(t // STEP_S), MAC_DIGITS)
        return f"{PREFIX}{self.device_slot:0{SLOT_DIGITS}d}{mac}"

    def now(self) -> str:
        """The code to show now (by the generator's clock).

        >>> shown = generator.now()          # doctest: +SKIP
        """
        return self.code_at_time(self._clock())

    def refresh_in_at_time(self, t: float) -> float:
        """Seconds until the code shown at ``t`` changes (redraw the QR code then).

        >>> PaymentCodeGenerator(b"1" * 16, 7).refresh_in_at_time(59)
        1.0
        """
        return float(STEP_S - (t % STEP_S))

    def refresh_in(self) -> float:
        """:meth:`refresh_in_at_time` by the generator's clock."""
        return self.refresh_in_at_time(self._clock())

    def __repr__(self) -> str:  # never the secret
        return f"PaymentCodeGenerator(device_slot={self.device_slot})"
