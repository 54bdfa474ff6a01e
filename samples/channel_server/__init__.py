"""A sample channel server (the server of a channel's phone app), built only on
``ecard_sdk``: its users claim an e-card (liveness session, then issuance), show
identity codes, enable payment and show payment codes, confirm payments with the
PIN and certify their entitlement; the platform's callbacks are verified and kept.

Run it with ``make sample`` (beside the backend and the callback worker), or alone:
``uv run python -m samples.channel_server --port 8001`` once the sample channels are
registered (``python -m samples.channel_server.register --callback-url …``).
"""
