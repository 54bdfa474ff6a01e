"""A sample terminal (counter, hospital, bus gate): scans a QR image, verifies an
identity code offline, then online with a scene code. Built only on ``ecard_sdk``.

Run ``uv run python -m samples.terminal --help``.
"""
