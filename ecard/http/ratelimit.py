"""Rate limits: one budget per channel, or per client address before authentication.

flask-limiter holds the counters (``memory://`` on one machine, Redis when
``REDIS_URL`` is set, so that every worker shares them). The default limit
(``RATELIMIT_DEFAULT``) applies:

* to endpoints without channel authentication, per client address, before the view
  runs (flask-limiter's own hook);
* to channel-authenticated endpoints, once the token has been checked
  (:func:`ecard.channels.flask_auth.require_channel` calls :func:`enforce`): per
  channel number when the token was accepted, per client address when it was
  refused, so a flood of bad tokens is limited too and cannot spend a real
  channel's budget by naming it in an unverified ``iss``.

Breaches answer 429 with the ``RATE_LIMITED`` envelope.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many

from ecard.errors import EcardError

CHANNEL_AUTH_ATTR = "_ecard_channel_auth"
_EXTENSION = "ecard.limiter"


def rate_limit_key() -> str:
    """The calling channel's number once authenticated, else the client address."""
    channel = g.get("channel")
    if channel is not None:
        return f"channel:{channel.channel_no}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _channel_authenticated_endpoint() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, CHANNEL_AUTH_ATTR, False))


class RateLimits:
    """The app's limiter and its default limit, reachable from views."""

    def __init__(self, limiter: Limiter, default: list[RateLimitItem], prefix: str) -> None:
        self.limiter = limiter
        self.default = default
        self.prefix = prefix

    def enforce(self, key: str | None = None) -> None:
        """Count this request against ``key``'s default budget; raise 429 when spent."""
        if not self.limiter.enabled:
            return
        key = key or rate_limit_key()
        for item in self.default:
            if not self.limiter.limiter.hit(item, self.prefix, "channel", key):
                reset_at, _remaining = self.limiter.limiter.get_window_stats(
                    item, self.prefix, "channel", key)
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise EcardError("RATE_LIMITED", details={"retry_after_s": retry_after})


def init_app(app: Flask) -> RateLimits:
    default = str(app.config.get("RATELIMIT_DEFAULT") or "6000 per minute")
    storage = app.config.get("REDIS_URL") or "memory://"
    prefix = str(app.config.get("RATELIMIT_KEY_PREFIX") or "ecard")
    limiter = Limiter(
        rate_limit_key,
        default_limits=[default],
        default_limits_exempt_when=_channel_authenticated_endpoint,
        storage_uri=str(storage),
        storage_options={"socket_timeout": 2} if storage != "memory://" else {},
        strategy="fixed-window",
        key_prefix=prefix,
        headers_enabled=True,
    )
    limiter.init_app(app)
    limits = RateLimits(limiter, list(parse_many(default)), prefix)
    app.extensions[_EXTENSION] = limits
    return limits


def current_limits() -> RateLimits:
    limits: RateLimits = current_app.extensions[_EXTENSION]
    return limits
