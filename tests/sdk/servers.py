"""Real sockets for the SDK tests: the backend app served over HTTP in a thread, and a
small proxy in front of it that misbehaves on cue (answers 503, 409 or 429 itself,
or drops the connection before or after forwarding) and records what it received."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import make_server

HOST = "127.0.0.1"


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` on a free loopback port (threaded werkzeug server); yields its base URL."""
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """A canned answer the proxy gives instead of forwarding."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


FORWARD = "forward"
DROP = "drop"  # close the connection without forwarding or answering
FORWARD_THEN_DROP = "forward_then_drop"  # the platform acts, the answer is lost

Action = str | Answer


def envelope(code: str, status: int, message: str = "injected by the test proxy") -> Answer:
    return Answer(status, {"code": code, "message": message, "details": None,
                           "request_id": f"proxy-{code.lower()}"})


class FlakyProxy:
    """Plays ``script`` one action per request (then forwards everything)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.script: list[Action] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def play(self, *actions: Action) -> None:
        with self.lock:
            self.script = list(actions)
            self.received = []

    def _next(self, received: Received) -> Action:
        with self.lock:
            self.received.append(received)
            return self.script.pop(0) if self.script else FORWARD

    def forward(self, req: Received) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port,
                                          timeout=30)
        try:
            headers = {k: v for k, v in req.headers.items()
                       if k.lower() not in ("host", "connection", "content-length")}
            conn.request(req.method, req.path, body=req.body or None, headers=headers)
            res = conn.getresponse()
            return res.status, res.getheaders(), res.read()
        finally:
            conn.close()

    @contextmanager
    def running(self) -> Iterator[FlakyProxy]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Received(self.command, self.path, dict(self.headers.items()),
                               self.rfile.read(length))
                action = proxy._next(req)
                if action == DROP:
                    self.close_connection = True
                    return
                if isinstance(action, Answer):
                    body = json.dumps(action.body).encode() if action.body is not None \
                        else b"<html>bad gateway</html>"
                    self.send_response(action.status)
                    for name, value in action.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json" if action.body
                                     is not None else "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                status, headers, body = proxy.forward(req)
                if action == FORWARD_THEN_DROP:
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("connection", "transfer-encoding", "server",
                                            "date"):
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        server = Server((HOST, 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.base_url = f"http://{HOST}:{server.server_port}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
