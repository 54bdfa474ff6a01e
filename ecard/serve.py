"""``ecard serve``: the API under gunicorn (N sync workers, one shared database)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from ecard import create_app
        return create_app()


def serve(host: str, port: int, workers: int, *, access_log: bool = False) -> None:
    options: dict[str, Any] = {
        "bind": f"{host}:{port}", "workers": workers, "worker_class": "sync",
        "timeout": 60, "graceful_timeout": 10,
        # Each worker builds its own app after the fork: no shared DB connections.
        "preload_app": False,
    }
    if access_log:
        options["accesslog"] = "-"
    _Gunicorn(options).run()
