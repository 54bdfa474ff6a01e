"""``ecard demo load``: the demo registry and two demo channels, idempotently.

The demo identities are fictional (valid ID numbers with check digits, invented
names); their enrolment photos are real, attributed images from the shared face set
(``samples/demo/faces/manifest.json``). Each demo channel's private key is written
to ``instance/demo-channels/<number>.pem`` (git-ignored) so that sample scripts can
sign calls as that channel.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecard.audit.services import Actor
from ecard.channels.models import Channel
from ecard.channels.services import add_key, change_status, list_keys, register_channel
from ecard.platform import Platform
from ecard.registry.importer import ImportSummary, RegistryImporter

DEMO_DIR = Path(__file__).resolve().parents[1] / "samples" / "demo"


@dataclass(frozen=True)
class DemoChannel:
    channel_no: str
    name: str
    type: str


DEMO_CHANNELS = (
    DemoChannel("1000000001", "国家社会保险公共服务平台（演示）", "ministry"),
    DemoChannel("2000000001", "示例银行手机银行（演示）", "bank"),
)


def _channel_key(instance_dir: Path, channel_no: str) -> tuple[Path, str]:
    """The demo channel's key file (created on first use) and its public PEM."""
    folder = instance_dir / "demo-channels"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{channel_no}.pem"
    if not path.exists():
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    public = loaded.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public.decode()


def load_demo_channels(platform: Platform, actor: Actor) -> list[tuple[DemoChannel, Path]]:
    instance_dir = Path(platform.config["INSTANCE_DIR"])
    out = []
    for demo in DEMO_CHANNELS:
        key_path, public_pem = _channel_key(instance_dir, demo.channel_no)
        kid = "demo-" + demo.channel_no
        with platform.db.transaction() as session:
            channel = session.get(Channel, demo.channel_no)
            if channel is None:
                register_channel(session, platform.clock, actor, channel_no=demo.channel_no,
                                 name=demo.name, type=demo.type, public_key=public_pem,
                                 kid=kid)
                change_status(session, platform.clock, actor, demo.channel_no, "testing")
                change_status(session, platform.clock, actor, demo.channel_no, "online")
            else:
                pems = {k.public_pem.strip() for k in list_keys(session, demo.channel_no)
                        if k.status == "active"}
                if public_pem.strip() not in pems:  # key file was deleted and remade
                    add_key(session, platform.clock, actor, demo.channel_no, public_pem,
                            kid=f"{kid}-{len(pems) + 1}")
        out.append((demo, key_path))
    return out


def load_demo_registry(platform: Platform, actor: Actor) -> ImportSummary:
    rejects = Path(platform.config["INSTANCE_DIR"]) / "demo-persons.rejects.csv"
    importer = RegistryImporter(platform.db, platform.protector, platform.clock,
                                platform.faces, actor)
    return importer.run(DEMO_DIR / "persons.csv", photos_dir=DEMO_DIR, rejects_path=rejects)


def demo_identities() -> list[dict[str, str]]:
    with (DEMO_DIR / "persons.csv").open(encoding="utf-8") as fh:
        return [{"id_number": r["aac002"], "name": r["aac003"], "card_no": r["aaz500"],
                 "card_status": r["card_status"], "photo": r["photo"]}
                for r in csv.DictReader(fh)]
