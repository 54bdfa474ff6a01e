"""ecard_sdk: what channels and terminals embed to work with the ecard platform.

So far: :class:`~ecard_sdk.offline.OfflineVerifier`, which verifies identity codes
(亮码) at a terminal with no network, from a cached JWKS and signed status list.
"""

from ecard_sdk.codes import IdentityClaims, InvalidCode
from ecard_sdk.offline import Fetched, OfflineVerifier, VerifyResult, http_fetchers
from ecard_sdk.statuslist import StatusList

__all__ = ["Fetched", "IdentityClaims", "InvalidCode", "OfflineVerifier", "StatusList",
           "VerifyResult", "http_fetchers"]
__version__ = "0.1.0"
