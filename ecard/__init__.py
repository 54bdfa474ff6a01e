"""ecard: the electronic social-security card platform."""

from __future__ import annotations

from typing import Any

from flask import Flask

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None, **platform_kwargs: Any) -> Flask:
    """Build the WSGI app: defaults, then environment, then ``test_config``.

    ``platform_kwargs`` lets tests inject a clock or a face engine.
    """
    from ecard.config import load_config
    from ecard.http import init_app as init_http
    from ecard.logging import configure_logging
    from ecard.platform import Platform

    app = Flask(__name__, instance_relative_config=False)
    config = load_config(overrides=test_config)
    app.config.update(config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # answer Chinese as UTF-8, not escapes
    configure_logging(json_lines=bool(config.get("LOG_JSON")))
    app.extensions["ecard"] = Platform.build(config, **platform_kwargs)
    init_http(app)
    return app
