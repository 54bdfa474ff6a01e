"""The platform's shared services, built once per app (no module-level globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from ecard.clock import Clock, SystemClock
from ecard.db import Database
from ecard.faces.engine import DlibFaceEngine
from ecard.faces.interfaces import FaceEngine
from ecard.protect import DataProtector, load_master_key
from ecard.tokens.services import KeyRing


@dataclass
class Platform:
    config: dict[str, Any]
    db: Database
    protector: DataProtector
    keyring: KeyRing
    clock: Clock
    faces: FaceEngine
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, config: dict[str, Any], *, clock: Clock | None = None,
              faces: FaceEngine | None = None) -> Platform:
        db = Database(config["DATABASE_URL"])
        master = load_master_key(config.get("MASTER_KEY"), Path(config["INSTANCE_DIR"]))
        protector = DataProtector.from_master(master)
        clock = clock or SystemClock()
        keyring = KeyRing(db.sessionmaker, protector, clock)
        return cls(config=config, db=db, protector=protector, keyring=keyring, clock=clock,
                   faces=faces or DlibFaceEngine())


def current_platform() -> Platform:
    platform: Platform = current_app.extensions["ecard"]
    return platform
