"""The terminal's copy of the platform's JWKS and status list, kept on disk.

A terminal is switched off and on and loses its network: it keeps what it last
fetched in a folder and falls back to it when the platform cannot be reached. The
verifier still judges the cached status list by its own signed ``iat``/``exp``, so an
old copy is refused as stale (``status_list_stale``), never trusted silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecard_sdk import Fetched, http_fetchers

JWKS_FILE = "jwks.json"
STATUS_FILE = "status-list.jwt"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class DiskCachedFetchers:
    """Fetchers for :class:`ecard_sdk.OfflineVerifier` that store every successful
    fetch in ``folder`` and answer from it when the network fails (or always, with
    ``offline=True``)."""

    def __init__(self, base_url: str, folder: Path, *, offline: bool = False,
                 timeout_s: float = 3.0) -> None:
        self.folder = folder
        self.offline = offline
        self.used_cache: set[str] = set()
        self._net_jwks, self._net_status = http_fetchers(base_url, timeout_s=timeout_s)

    def jwks(self) -> Fetched:
        return self._fetch(JWKS_FILE, self._net_jwks,
                           lambda v: json.dumps(v).encode(), json.loads)

    def status_list(self) -> Fetched:
        return self._fetch(STATUS_FILE, self._net_status, bytes, lambda b: b)

    def _fetch(self, name: str, network: Callable[[], Fetched],
               dump: Callable[[Any], bytes], load: Callable[[bytes], Any]) -> Fetched:
        path = self.folder / name
        if not self.offline:
            try:
                fetched = network()
            except OSError:
                pass  # unreachable: the cached copy below, if any
            else:
                self.folder.mkdir(parents=True, exist_ok=True)
                _write_atomically(path, dump(fetched.value))
                return fetched
        # Raises when there is no copy: the verifier then reports the list stale.
        value = load(path.read_bytes())
        self.used_cache.add(name)
        return Fetched(value, None)
