"""Channels (渠道): registration, keys, lifecycle, and authentication of their calls."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Build the app's channel authenticator (its caches live as long as the app)."""
    from ecard.channels.auth import ChannelAuthenticator
    from ecard.channels.flask_auth import EXTENSION
    from ecard.channels.replay import build_replay_guard
    from ecard.platform import Platform

    platform: Platform = app.extensions["ecard"]
    guard = build_replay_guard(platform.config, platform.db.engine, platform.clock)
    app.extensions[EXTENSION] = ChannelAuthenticator.from_config(
        platform.config, platform.db.sessionmaker, guard, platform.clock)
