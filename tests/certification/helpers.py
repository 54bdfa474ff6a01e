"""The certification API on real frames: a face engine that remembers its work, a
holder whose enrolment template is katiehill's own frame 0, sessions with fixed
actions, and frame uploads.

katiehill (person_13) has no enrolment photo in the shared set: her frontal frame 0
(yaw 0.07, eyes open) is enrolled as her template (registry path: ``make_holder``),
and frame 0 is never sent in a session. Her e-card in the channel is written directly
(issuance through a liveness session is tested in ``test_issuance.py``).
"""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from ecard.cards.models import ECard, allocate_status_index
from ecard.cards.services import new_sign_no
from ecard.cards.views import card_service
from ecard.certification.interfaces import Action
from ecard.certification.models import BenefitRecipient
from ecard.faces.engine import DlibFaceEngine
from ecard.faces.interfaces import DetectedFace, FaceBox
from ecard.platform import Platform
from tests.cards.helpers import GOOD_PIN, make_channel
from tests.support.channel_client import ChannelIdentity
from tests.support.factories import Holder, make_holder

KATIE = "wda_katiehill"
HAMILTON = "hamilton_short"
CHANNEL = "1000000001"
SESSIONS = "/api/v1/certification/sessions"

_DETECT: dict[str, list[DetectedFace]] = {}
_MARKS: dict[str, dict[str, Any]] = {}


def _key(rgb: npt.NDArray[np.uint8]) -> str:
    return hashlib.sha256(rgb.tobytes()).hexdigest() + repr(rgb.shape)


class CachingLandmarkEngine:
    """The real dlib engine, remembered per decoded image for the whole test run."""

    def __init__(self) -> None:
        self.inner = DlibFaceEngine()

    def detect_and_encode(self, rgb: npt.NDArray[np.uint8]) -> list[DetectedFace]:
        k = _key(rgb)
        if k not in _DETECT:
            _DETECT[k] = self.inner.detect_and_encode(rgb)
        return _DETECT[k]

    def landmarks(self, rgb: npt.NDArray[np.uint8], box: FaceBox) -> dict[str, Any]:
        k = _key(rgb) + repr(box)
        if k not in _MARKS:
            _MARKS[k] = self.inner.landmarks(rgb, box)
        return _MARKS[k]


def frame_bytes(faces_dir: Path, clip: str, index: int) -> bytes:
    return (faces_dir / "liveness" / clip / "frames" / f"frame_{index:05d}.jpg").read_bytes()


def reencoded(data: bytes, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        ImageOps.exif_transpose(img).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def upload(frames: list[bytes], start: datetime | None = None) -> dict[str, Any]:
    t0 = start or datetime(2026, 1, 1, tzinfo=UTC)
    return {"frames": [{"image": base64.b64encode(f).decode(),
                        "captured_at": (t0 + timedelta(milliseconds=400 * i)).isoformat()}
                       for i, f in enumerate(frames)]}


def katie_holder(platform: Platform, faces_dir: Path, channel: ChannelIdentity,
                 *, birth: str = "19480307", recipient: bool = True) -> tuple[Holder, str]:
    """katiehill in the registry (template: her frame 0), her e-card in ``channel``
    and a benefit recipient record."""
    from tests.support.factories import make_id_number
    tmp = faces_dir / "liveness" / KATIE / "frames" / "frame_00000.jpg"
    holder = make_holder(platform, name="凯蒂", id_number=make_id_number("110101", birth),
                         photo=tmp)
    now = platform.clock.now()
    with platform.db.transaction() as session:
        # her e-card, written directly (issuance through a session: test_issuance.py)
        card_service(platform).pins.set_initial(session, holder.person_id, GOOD_PIN)
        ecard = ECard(sign_no=new_sign_no("110101"), person_id=holder.person_id,
                      channel_no=channel.channel_no, card_id=holder.card_id,
                      openid=platform.protector.pseudonym(channel.channel_no,
                                                          str(holder.person_id)),
                      status_index=allocate_status_index(session, now), level=1,
                      status="active", face_score=0.3, issued_at=now, updated_at=now,
                      unlinked_at=None)
        session.add(ecard)
        if recipient:
            session.add(BenefitRecipient(
                person_id=holder.person_id, type="enterprise_retiree",
                monthly_pension_fen=300000, funeral_grant_fen=1500000,
                survivor_lump_sum_fen=2700000, region="110101",
                bank_account_enc=platform.protector.encrypt_str("6222020200112233445",
                                                                "recipient.bank_account"),
                period_months=14, certified_until=(now + timedelta(days=200)).date(),
                status="valid", backpay_due=False, backpay_months=0, last_certified_at=None,
                died_on=None, row_hash="test", created_at=now, updated_at=now))
    return holder, ecard.sign_no


def setup_platform(platform: Platform) -> ChannelIdentity:
    platform.faces = CachingLandmarkEngine()
    return make_channel(platform, CHANNEL, name="示例银行", type="bank")


BLINK_THEN_MOUTH = [Action.BLINK, Action.OPEN_MOUTH]
