"""ecard_sdk: what channels and terminals embed to work with the ecard platform.

* :class:`EcardClient` - signed calls to the platform, resource by resource
  (``client.cards``, ``client.identity_codes``, ``client.payments``, ``client.refunds``,
  ``client.merchant_orders``, ``client.certification``, ``client.h5``,
  ``client.channel_users``), typed errors
  (:mod:`ecard_sdk.errors`), retries with idempotency keys.
* :class:`PaymentCodeGenerator` - the device side of payment codes, offline.
* :func:`verify_callback` - checks the platform's signed callbacks.
* :class:`OfflineVerifier` - verifies identity codes at a terminal with no network.
* :func:`ecard_sdk.h5.sso_ticket` - a government app's H5 sign-on ticket.

See sdk/README.md for a tour with examples.
"""

from ecard_sdk._http import RequestOptions
from ecard_sdk._object import EcardObject, ResponseInfo
from ecard_sdk._version import __version__
from ecard_sdk.callbacks import (
    JwksCache,
    MemoryReplayCache,
    RedisReplayCache,
    ReplayCache,
    verify_callback,
)
from ecard_sdk.client import EcardClient
from ecard_sdk.codes import IdentityClaims, InvalidCode
from ecard_sdk.errors import CallbackVerificationError, EcardError
from ecard_sdk.offline import Fetched, OfflineVerifier, VerifyResult, http_fetchers
from ecard_sdk.paymentcodes import PaymentCodeGenerator
from ecard_sdk.statuslist import StatusList

__all__ = ["CallbackVerificationError", "EcardClient", "EcardError", "EcardObject", "Fetched",
           "IdentityClaims", "InvalidCode", "JwksCache", "MemoryReplayCache",
           "OfflineVerifier", "PaymentCodeGenerator", "RedisReplayCache", "ReplayCache",
           "RequestOptions", "ResponseInfo", "StatusList", "VerifyResult", "__version__",
           "http_fetchers", "verify_callback"]
