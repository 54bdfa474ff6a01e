"""The payment code (付款码): 18 digits a holder's device derives with no network.

Layout::

    81 | device slot (9 digits) | MAC (7 digits)

* ``81`` marks an e-card payment code. Scanners route codes by their first two
  digits; the wallets' ranges (WeChat Pay 10–15, Alipay 25–30, UnionPay 62) are
  left alone so an acquirer's terminal never sends ours to a wallet or theirs to us.
* The device slot is how the server finds the device's secret without trying every
  device: 10^9 slots, more than the e-card holders (about 1.0 billion, 2024), and
  only holders with payment enabled (level 2) enrol devices. Slots are the
  database's to assign (at random among free ones, so they do not count enrolments;
  a retired slot is reused only after its last code has expired). The slot is in
  clear, so one merchant can link the payments one device made; making codes
  unlinkable would take pre-issued one-time pseudonyms, not a different formula.
* The MAC is RFC 6238 TOTP with HMAC-SHA256, a 30-second step from the Unix epoch
  (T0 = 0) and 7 digits: ``HOTP(secret, floor(t / 30)) mod 10^7``, with RFC 4226's
  dynamic truncation. A phone can compute it with any standard TOTP library, and
  the RFC's SHA-256 table checks this one (its 8-digit values end in ours).

How long a code lives. The server accepts the steps ``S-1, S, S+1`` around its own
step ``S``. A code made at device time ``g`` in step ``s = floor(g / 30)`` is
accepted for server times in ``[30(s-1), 30(s+2))``: with agreeing clocks, from
its creation until 30 to 60 seconds later (60 s when made at the start of a step,
30 s at its end), never longer than 60 s; the step before also tolerates a device
clock up to 30 s ahead.

Guessing. A guessed code names a slot and matches one of its three accepted MACs
with probability 3 × 10^-7 (about one in 3.3 million; a 6-digit TOTP with the same
window is ten times weaker). Every guess is a call by an authenticated merchant
(acquirer channel) that the server rate-limits, audits and counts per device; a
matched code is single-use, and amounts above the no-PIN limit still need the
holder's PIN.

Replay is the server's job, with the database part: it records each redemption
under the unique key ``(device, step)`` (so two processes racing on one code get
one capture), and should also refuse a step not newer than the last one redeemed
for the device, so an older code still inside the window is dead once a newer one
was used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from ecard.tokens.interfaces import InvalidToken

PREFIX = "81"
SLOT_DIGITS = 9
MAC_DIGITS = 7
CODE_DIGITS = len(PREFIX) + SLOT_DIGITS + MAC_DIGITS  # 18
STEP_S = 30
WINDOW_STEPS = 1
SECRET_BYTES = 32
MIN_SECRET_BYTES = 16
_DUMMY_SECRET = bytes(SECRET_BYTES)


class PaymentCodeMatch(NamedTuple):
    """Which device made a verified code, and in which 30-second step."""

    device_slot: int
    step: int


def new_device_secret() -> bytes:
    """A fresh per-device secret (256 bits), provisioned at level-2 issuance."""
    return secrets.token_bytes(SECRET_BYTES)


def time_step(t: float) -> int:
    if t < 0:
        raise ValueError("t must be a Unix time in seconds, not before 1970")
    return int(t // STEP_S)


def hotp_sha256(secret: bytes, counter: int, digits: int) -> str:
    """RFC 4226 HOTP over an 8-byte counter, with HMAC-SHA256 (as RFC 6238 allows)."""
    mac = hmac.new(secret, counter.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def is_payment_code(text: str) -> bool:
    """Whether ``text`` has the shape of a payment code (for routing a scan)."""
    return (len(text) == CODE_DIGITS and text.isascii() and text.isdigit()
            and text.startswith(PREFIX))


def generate_payment_code_at_time(secret: bytes, device_slot: int, t: float) -> str:
    """The code the device with ``device_slot`` and ``secret`` shows at Unix time ``t``."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the device secret must be at least {MIN_SECRET_BYTES} bytes")
    if not 0 <= device_slot < 10**SLOT_DIGITS:
        raise ValueError(f"device_slot must have at most {SLOT_DIGITS} digits")
    mac = hotp_sha256(secret, time_step(t), MAC_DIGITS)
    return f"{PREFIX}{device_slot:0{SLOT_DIGITS}d}{mac}"


def generate_payment_code(secret: bytes, device_slot: int, *, now: datetime) -> str:
    """:func:`generate_payment_code_at_time` with the time from a ``Clock``'s ``now()``."""
    return generate_payment_code_at_time(secret, device_slot, now.timestamp())


def verify_payment_code_at_time(
    code: str, lookup_secret: Callable[[int], bytes | None], t: float,
) -> PaymentCodeMatch:
    """Check ``code`` at server time ``t``; returns ``(device_slot, step)``.

    ``lookup_secret(slot)`` returns the device's current secret, or ``None`` when no
    device holds the slot. Raises the one :class:`InvalidToken` for a malformed,
    unknown-device, wrong-device, tampered or expired code: with a time-based MAC an
    expired code is simply one that does not match. The MACs of all accepted steps
    are computed and compared in constant time, also for an unknown slot.
    Not checked here: single use (see the module docstring).
    """
    if not isinstance(code, str) or not is_payment_code(code):
        raise InvalidToken
    slot = int(code[len(PREFIX):len(PREFIX) + SLOT_DIGITS])
    given = code[len(PREFIX) + SLOT_DIGITS:]
    secret = lookup_secret(slot)
    known = secret is not None
    now_step = time_step(t)
    matched: int | None = None
    # Current step first: when two steps' MACs collide (1 in 10^7) the current wins.
    for step in (now_step, now_step - 1, now_step + 1):
        expected = hotp_sha256(secret if secret is not None else _DUMMY_SECRET, step,
                               MAC_DIGITS)
        if hmac.compare_digest(expected, given) and matched is None and step >= 0:
            matched = step
    if not known or matched is None:
        raise InvalidToken
    return PaymentCodeMatch(slot, matched)


def verify_payment_code(
    code: str, lookup_secret: Callable[[int], bytes | None], *, now: datetime,
) -> PaymentCodeMatch:
    """:func:`verify_payment_code_at_time` with the time from a ``Clock``'s ``now()``."""
    return verify_payment_code_at_time(code, lookup_secret, now.timestamp())
