"""Imports every table so that metadata (Alembic, ``create_all``) sees all of them."""

from channel_adapters.models import (
    ChannelUserLink,
    H5TicketUse,
    PayoutBatch,
    PayoutInstruction,
    PayoutPosition,
)
from ecard.audit.models import AuditAnchor, AuditEntry
from ecard.cards.models import ECard, Pin, StatusIndexAllocation
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
from ecard.payments.models import (
    Account,
    Entry,
    MerchantOrder,
    Payment,
    PaymentCodeUse,
    PaymentDevice,
    Posting,
    Refund,
    SmsChallenge,
)
from ecard.registry.models import FaceTemplate, Person, PhysicalCard
from ecard.tokens.models import (
    Disclosure,
    IdentityCode,
    SigningKey,
    StatusListSnapshot,
)

__all__ = [
    "Account",
    "Appeal",
    "AppealFrame",
    "AuditAnchor",
    "AuditEntry",
    "BenefitRecipient",
    "CertificationAttempt",
    "CertificationSession",
    "Channel",
    "ChannelKey",
    "ChannelUserLink",
    "Disclosure",
    "ECard",
    "Entry",
    "FaceTemplate",
    "H5TicketUse",
    "IdempotencyRecord",
    "IdentityCode",
    "MerchantOrder",
    "Notification",
    "Operator",
    "Payment",
    "PaymentCodeUse",
    "PaymentDevice",
    "PayoutBatch",
    "PayoutInstruction",
    "PayoutPosition",
    "Person",
    "PhysicalCard",
    "Pin",
    "Posting",
    "Refund",
    "SeenFrame",
    "SigningKey",
    "SmsChallenge",
    "StatusIndexAllocation",
    "StatusListSnapshot",
    "UsedToken",
]
