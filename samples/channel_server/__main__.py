"""``python -m samples.channel_server [--host] [--port] [--data-dir]``: serve the sample
app (threaded WSGI server; SIGTERM or Ctrl-C stops it)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from samples.channel_server.app import Settings, create_app


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m samples.channel_server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--data-dir", type=Path, help="key and SQLite file (default instance/sample)")
    p.add_argument("--ecard-url", help="the platform (default $ECARD_URL or :8000)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sample-app %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = Settings.from_env(data_dir=args.data_dir, ecard_url=args.ecard_url)
    try:
        app = create_app(settings)
    except OSError as exc:
        print(f"cannot start: {exc} (register the sample channels first: "
              "python -m samples.channel_server.register)", file=sys.stderr)
        return 1
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"sample channel {settings.channel_no} on http://{args.host}:{server.port} "
          f"(platform {settings.ecard_url})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
