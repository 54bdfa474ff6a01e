"""Helpers shared by the payments tests."""

from __future__ import annotations

from ecard.clock import FrozenClock


def clear_of_cst_midnight(clock: FrozenClock) -> None:
    """Statements are per China Standard Time day: a test that pays, waits 30 s and
    reconciles "today" must not straddle midnight CST (16:00 UTC)."""
    from ecard.payments.reconcile import CST
    local = clock.now().astimezone(CST)
    if local.hour == 23 and local.minute >= 50:
        clock.advance(seconds=(60 - local.minute) * 60 + 60)
