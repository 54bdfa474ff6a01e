"""Attribute release: what a scanning channel may learn from an identity code.

One declarative table, :data:`POLICY`, says which attributes each channel type may
receive in each scene. The online check releases the scanning channel's entitlement
for the scene (or the subset it asks for) and records the release; asking for one
attribute more is refused whole (``ATTRIBUTES_NOT_ALLOWED``), nothing is released and
the code stays unredeemed.

The policy, and why (data minimisation: the least that lets the scene work):

* **Everyone, every scene** gets :data:`BASE`: the holder's pseudonym *in the
  scanning channel* (``openid``, so two channels cannot join records on it), the
  masked name and ID number (what a counter reads back to the holder), the card's
  issuing region, the e-card level, and ``own_sign_no``, the scanning channel's own
  sign number for this holder when it issued one (null otherwise): a channel learns
  that the person in front of it is its own customer, nothing about other channels.
  The issuing channel's ``sign_no`` is never released: it would link the two channels.
* **01 query** (a service counter looks the holder up): ministry/HR and government
  channels run the social-insurance and public services that are keyed by the
  citizen ID, so they get the full name, the full ID number, gender, birth date and
  the masked card number. A medical channel registers the patient by name, gender and
  birth date but does not need the ID number for a query. Banks, partners and social
  platforms get the masked card number on top of the base (to match their customer).
* **02 payment** (identity at a payment): the masked card number for everyone; banks
  and medical acquirers the full name too (the name on a receipt or invoice). The
  payment itself goes through the payment code; no ID number here.
* **03 other**: the base; ministry/HR and government channels the full name.
* **04 cross-region medical** (异地就医): the hospital settles with the insurance
  fund of another province, which is keyed by the citizen ID: medical channels get
  the full name, full ID number, gender, birth date and masked card number, and so
  do ministry/HR and government channels (they run the settlement platforms). Banks,
  partners and social platforms get the base only.

Never released by any scene: the enrolment photo, face templates, the bank account,
phone numbers and the PIN state. The registry holds no insurance-status flags yet;
they join this table when the data does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ecard.channels.models import CHANNEL_TYPES
from ecard.errors import EcardError
from ecard.tokens.qr import SCENES

# name -> what it is (published in the OpenAPI description and the README)
ATTRIBUTES: dict[str, str] = {
    "openid": "the holder's pseudonym in the scanning channel",
    "own_sign_no": "the scanning channel's own sign number for this holder, or null",
    "name_masked": "the name with all but the last character masked (*三)",
    "id_masked": "the ID number masked (1101**********123X)",
    "region": "the issuing region of the physical card (6 digits)",
    "ecard_level": "1 (identity and queries) or 2 (payment enabled)",
    "card_no_masked": "the physical card number, masked",
    "name": "the full name",
    "id_number": "the full 18-character citizen ID number",
    "gender": "1 male, 2 female (GB/T 2261.1)",
    "birth_date": "YYYY-MM-DD",
}
SENSITIVE = frozenset({"name", "id_number", "birth_date"})

BASE = frozenset({"openid", "own_sign_no", "name_masked", "id_masked", "region",
                  "ecard_level"})
_CIVIC = BASE | {"name", "id_number", "gender", "birth_date", "card_no_masked"}
_CARD = BASE | {"card_no_masked"}
_NAMED_CARD = _CARD | {"name"}

# scene -> channel type -> attributes
POLICY: dict[str, dict[str, frozenset[str]]] = {
    "01": {"ministry": _CIVIC, "government": _CIVIC,
           "medical": _CARD | {"name", "gender", "birth_date"},
           "bank": _CARD, "partner": _CARD, "social": _CARD},
    "02": {"ministry": _CARD, "government": _CARD, "medical": _NAMED_CARD,
           "bank": _NAMED_CARD, "partner": _CARD, "social": _CARD},
    "03": {"ministry": BASE | {"name"}, "government": BASE | {"name"}, "medical": BASE,
           "bank": BASE, "partner": BASE, "social": BASE},
    "04": {"ministry": _CIVIC, "government": _CIVIC, "medical": _CIVIC,
           "bank": BASE, "partner": BASE, "social": BASE},
}


@dataclass(frozen=True)
class Release:
    """The attributes to release (sorted) for one scan."""

    scene: str
    channel_type: str
    attributes: tuple[str, ...]


def check_scene(scene: str) -> str:
    if scene not in SCENES:
        raise EcardError("SCENE_INVALID", details={"scene": scene, "allowed": sorted(SCENES)})
    return scene


def entitlement(channel_type: str, scene: str) -> frozenset[str]:
    """What a channel of ``channel_type`` may receive in ``scene`` (empty if unknown)."""
    return POLICY.get(scene, {}).get(channel_type, frozenset())


def resolve_release(channel_type: str, scene: str,
                    requested: Iterable[str] | None = None) -> Release:
    """The release for a scan: the whole entitlement, or ``requested`` if it is a
    subset of it. Anything beyond (or unknown) refuses the whole request."""
    check_scene(scene)
    allowed = entitlement(channel_type, scene)
    wanted = allowed if requested is None else frozenset(requested)
    beyond = wanted - allowed
    if beyond:
        raise EcardError("ATTRIBUTES_NOT_ALLOWED", details={
            "not_allowed": sorted(beyond & ATTRIBUTES.keys()),
            "unknown": sorted(beyond - ATTRIBUTES.keys()),
            "allowed": sorted(allowed), "scene": scene, "channel_type": channel_type})
    return Release(scene, channel_type, tuple(sorted(wanted)))


def policy_table() -> Mapping[str, Mapping[str, list[str]]]:
    """The policy as plain lists (for documentation and tests)."""
    return {scene: {t: sorted(POLICY[scene][t]) for t in CHANNEL_TYPES} for scene in POLICY}
