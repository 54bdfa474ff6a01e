"""Channel adapters: one module per channel kind (``gov_app``, ``bank``,
``payment_platform``, ``hospital``) behind one interface (``interfaces.py``), and the
registry from channel type to adapter (``registry.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reference servers import the package without Flask's weight
    from flask import Flask


def init_app(app: Flask) -> None:
    """With ``ECARD_BANK_SMS_URL`` (and ``ECARD_BANK_SMS_CODE``, the bank's code) set,
    level-2 SMS codes are requested from that bank over the bank protocol instead of
    the demo log-file gateway."""
    from channel_adapters.bank import BankClient, BankSmsGateway
    from ecard.payments.views import SMS_EXTRA
    from ecard.platform import Platform

    platform: Platform = app.extensions["ecard"]
    url, code = platform.config.get("BANK_SMS_URL"), platform.config.get("BANK_SMS_CODE")
    if url and SMS_EXTRA not in platform.extras:
        if not code:
            raise RuntimeError("ECARD_BANK_SMS_URL needs ECARD_BANK_SMS_CODE (the bank code)")
        platform.extras[SMS_EXTRA] = BankSmsGateway(BankClient(
            url, code, platform.keyring, now_s=lambda: platform.clock.now().timestamp()))
