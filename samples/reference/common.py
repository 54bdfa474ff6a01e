"""What the reference servers share: a JSON HTTP handler over one :class:`State`
(``GET /received``, the 404/503 start of every POST), the startup line, args."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

MAX_BODY = 8 * 1024 * 1024


class State:
    """What the server has seen, behind one lock (the handler runs in threads)."""

    def __init__(self, fail_first: int) -> None:
        self.lock = threading.Lock()
        self.fail_left = fail_first
        self.requests = 0
        self.received: dict[str, list[Any]] = {}

    def should_fail(self) -> bool:
        with self.lock:
            self.requests += 1
            if self.fail_left > 0:
                self.fail_left -= 1
                return True
            return False


class JsonHandler(BaseHTTPRequestHandler):
    server_version = "ecard-reference/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
        return

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length)

    def answer(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class ReceivingHandler(JsonHandler):
    """``GET /received`` answers what :attr:`state` holds; :meth:`admitted_body` is the
    start every POST shares."""

    state: ClassVar[State]  # set by the server's main() before serving

    def do_GET(self) -> None:
        if self.path == "/received":
            with self.state.lock:
                self.answer(200, {**self.state.received, "requests": self.state.requests})
        else:
            self.answer(404, {"code": "NOT_FOUND"})

    def admitted_body(self, known_path: bool) -> bytes | None:
        """The request body, or None once 404 (unknown path) or 503 (``--fail-first``)
        has been answered."""
        if not known_path:
            self.answer(404, {"code": "NOT_FOUND"})
            return None
        body = self.body()
        if self.state.should_fail():
            self.answer(503, {"code": "UNAVAILABLE"})
            return None
        return body


def base_args(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--jwks", required=True, help="the platform's JWKS (JSON file)")
    parser.add_argument("--fail-first", type=int, default=0,
                        help="answer 503 to the first N requests (to exercise retries)")
    return parser


def serve(handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
    """Bind, print ``listening on http://host:port`` (the tests wait for it), serve."""
    httpd = ThreadingHTTPServer((host, port), handler)
    print(f"listening on http://{host}:{httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        sys.stdout.flush()
