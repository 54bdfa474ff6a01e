"""Helpers for the registry tests: CSV files, channels and e-cards built directly."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ecard.cards.models import ECard, allocate_status_index
from ecard.channels.models import Channel
from ecard.platform import Platform
from ecard.registry.csvformat import REQUIRED_COLUMNS
from ecard.registry.models import PhysicalCard
from tests.support.factories import make_id_number

HEADER = [*REQUIRED_COLUMNS, "photo"]


def row(id_number: str | None = None, **fields: str) -> dict[str, str]:
    """A valid row; keyword arguments override single fields."""
    base = {
        "aac002": id_number or make_id_number("110101", "19550307", "123"),
        "aac003": "张三", "aab301": "110101", "aaz500": "A12345678",
        "card_generation": "3", "bank_code": "ICBC", "bank_account": "6222020200112233445",
        "reserved_phone": "13800138000", "card_status": "active", "replaced_by": "",
        "photo": "",
    }
    base.update(fields)
    return base


def write_csv(path: Path, rows: Iterable[dict[str, str] | list[str]],
              header: list[str] | None = None, bom: bool = False) -> Path:
    header = header or HEADER
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as fh:
        return list(csv.DictReader(fh))


def add_channel(platform: Platform, channel_no: str) -> None:
    now = platform.clock.now()
    with platform.db.transaction() as s:
        s.add(Channel(channel_no=channel_no, name=f"channel {channel_no}", type="bank",
                      parent_no=None, status="online", callback_url=None, created_at=now,
                      updated_at=now))


def add_ecard(platform: Platform, card_no: str, channel_no: str, sign_no: str,
              status: str = "active") -> None:
    now = platform.clock.now()
    with platform.db.transaction() as s:
        card = s.scalars(select(PhysicalCard).where(PhysicalCard.card_no == card_no)).one()
        s.add(ECard(sign_no=sign_no, person_id=card.person_id, channel_no=channel_no,
                    card_id=card.id, openid=f"openid-{sign_no}", level=1, status=status,
                    status_index=allocate_status_index(s, now),
                    face_score=None, issued_at=now, updated_at=now,
                    unlinked_at=now if status == "unlinked" else None))


@pytest.fixture
def importer_for(platform: Platform) -> Callable[..., Any]:
    from ecard.audit.services import Actor
    from ecard.registry.importer import RegistryImporter

    def make(**kwargs: Any) -> RegistryImporter:
        return RegistryImporter(platform.db, platform.protector, platform.clock,
                                platform.faces, Actor("operator", "tester"), **kwargs)
    return make
