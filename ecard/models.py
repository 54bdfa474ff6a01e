"""Imports every table so that metadata (Alembic, ``create_all``) sees all of them."""

from ecard.audit.models import AuditAnchor, AuditEntry
from ecard.cards.models import ECard, Pin
from ecard.certification.models import (
    Appeal,
    AppealFrame,
    BenefitRecipient,
    CertificationAttempt,
    CertificationSession,
    SeenFrame,
)
from ecard.channels.models import Channel, ChannelKey, UsedToken
from ecard.http.models import IdempotencyRecord
from ecard.notifications.models import Notification
from ecard.operators.models import Operator
from ecard.registry.models import FaceTemplate, Person, PhysicalCard
from ecard.tokens.models import SigningKey

__all__ = [
    "Appeal", "AppealFrame", "BenefitRecipient", "CertificationAttempt",
    "CertificationSession", "Operator", "SeenFrame",
    "AuditAnchor", "AuditEntry", "Channel", "ChannelKey", "ECard", "FaceTemplate",
    "IdempotencyRecord", "Notification", "Person", "PhysicalCard", "Pin", "SigningKey",
    "UsedToken",
]
