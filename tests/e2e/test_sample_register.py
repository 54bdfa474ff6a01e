"""``samples.channel_server.register`` run again with another callback URL (a changed
``ECARD_SAMPLE_PORT``) moves the sample app's callbacks there, no ``make clean``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.processes import Stack

pytestmark = pytest.mark.e2e


def test_register_again_moves_the_callback_url(tmp_path: Path) -> None:
    st = Stack.create(tmp_path / "instance")
    st.run("-m", "ecard", "init")
    first = st.run("-m", "samples.channel_server.register",
                   "--callback-url", "http://127.0.0.1:8001/callbacks").stdout
    assert "3000000001 registered (social)" in first
    same = st.run("-m", "samples.channel_server.register",
                  "--callback-url", "http://127.0.0.1:8001/callbacks").stdout
    assert "3000000001 already registered\n" in same and "->" not in same
    moved = st.run("-m", "samples.channel_server.register",
                   "--callback-url", "http://127.0.0.1:8123/callbacks").stdout
    assert ("callback URL http://127.0.0.1:8001/callbacks -> "
            "http://127.0.0.1:8123/callbacks") in moved
    shown = st.run("-m", "ecard", "channel", "show", "3000000001").stdout
    assert "callback  http://127.0.0.1:8123/callbacks" in shown
    hospital = st.run("-m", "ecard", "channel", "show", "3000000002").stdout
    assert "callback  -" in hospital  # the hospital receives no callbacks
