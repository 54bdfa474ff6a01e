"""Channel adapters: one module per channel kind (``gov_app``, ``bank``,
``payment_platform``, ``hospital``) behind one interface (``interfaces.py``), and the
registry from channel type to adapter (``registry.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reference servers import the package without Flask's weight
    from flask import Flask


def init_app(app: Flask) -> None:
    """With bank SMS endpoints configured (``ECARD_BANK_SMS_URLS="ICBC=https://…,
    CCB=https://…"``, and/or the single-bank pair ``ECARD_BANK_SMS_URL`` +
    ``ECARD_BANK_SMS_CODE``), level-2 SMS codes are requested from the card's own bank
    over the bank protocol instead of the demo log-file gateway."""
    from channel_adapters.bank import BankClient, BankSmsGateway, parse_bank_urls
    from ecard.payments.views import SMS_EXTRA
    from ecard.platform import Platform

    platform: Platform = app.extensions["ecard"]
    try:
        urls = parse_bank_urls(platform.config.get("BANK_SMS_URLS"))
    except ValueError as exc:
        raise RuntimeError(f"ECARD_BANK_SMS_URLS: {exc}") from None
    url, code = platform.config.get("BANK_SMS_URL"), platform.config.get("BANK_SMS_CODE")
    if url:  # the single-bank settings of earlier versions: one more entry
        if not code:
            raise RuntimeError("ECARD_BANK_SMS_URL needs ECARD_BANK_SMS_CODE (the bank code)")
        if urls.get(code, url) != url:
            raise RuntimeError(f"bank {code} has two SMS endpoints: ECARD_BANK_SMS_URL and "
                               "ECARD_BANK_SMS_URLS differ")
        urls[code] = url
    if urls and SMS_EXTRA not in platform.extras:
        platform.extras[SMS_EXTRA] = BankSmsGateway(*(
            BankClient(bank_url, bank_code, platform.keyring,
                       now_s=lambda: platform.clock.now().timestamp())
            for bank_code, bank_url in sorted(urls.items())))
