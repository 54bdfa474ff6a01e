"""Building blocks for the cards and tokens tests: channels, a face-encoding cache,
the card service, and base64 images."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ecard.cards.services import CardService
from ecard.cards.views import card_service
from ecard.channels.models import Channel, ChannelKey
from ecard.faces.interfaces import DetectedFace, FaceEngine
from ecard.platform import Platform
from tests.support.channel_client import ChannelIdentity, SignedClient

# A holder whose enrolment photo is person_04/img1 and a live capture of the same
# person (distance 0.41 with the default model, under the 0.5 issuance threshold).
ENROL = "people/person_04/img1.jpg"
LIVE = "people/person_04/img2.jpg"
OTHER_PERSON = "people/person_05/img1.jpg"  # distance 0.98 to person_04
NO_FACE = "special/no_face/dogs.jpg"
TWO_FACES = "special/multi_face/two_people.jpg"

GOOD_PIN = "482913"
OTHER_PIN = "730518"

_ENCODINGS: dict[str, list[DetectedFace]] = {}


class CachingFaceEngine:
    """The real engine, remembered per image content for the whole test session
    (encoding takes 0.2-0.7 s per photo)."""

    def __init__(self, inner: FaceEngine) -> None:
        self.inner = inner

    def detect_and_encode(self, rgb: npt.NDArray[np.uint8]) -> list[DetectedFace]:
        key = hashlib.sha256(rgb.tobytes()).hexdigest() + repr(rgb.shape)
        if key not in _ENCODINGS:
            _ENCODINGS[key] = self.inner.detect_and_encode(rgb)
        return _ENCODINGS[key]


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def make_channel(platform: Platform, channel_no: str, *, name: str = "测试渠道",
                 type: str = "bank", status: str = "online") -> ChannelIdentity:
    identity = ChannelIdentity.generate(channel_no)
    now = platform.clock.now()
    with platform.db.transaction() as session:
        session.add(Channel(channel_no=channel_no, name=name, type=type, parent_no=None,
                            status=status, callback_url=None, created_at=now, updated_at=now))
        session.flush()
        session.add(ChannelKey(channel_no=channel_no, kid=identity.kid,
                               public_pem=identity.public_pem, status="active",
                               created_at=now))
    return identity


def signed(client: Any, identity: ChannelIdentity) -> SignedClient:
    return SignedClient(client, identity)


def service(platform: Platform) -> CardService:
    return card_service(platform)
