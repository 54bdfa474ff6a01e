"""The channel token every call carries (docs/channel-auth.md in the platform repo).

``{"alg": "ES256", "typ": "ecard-channel+jwt", "kid"}`` over ``iss`` (channel
number), ``aud`` ``"ecard-api"``, ``iat``/``exp``, a one-time ``jti``, ``htm`` (the
method), ``htu`` (path with ``?query``), ``bh`` (SHA-256 of the exact body bytes).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecard_sdk._jws import json_segment, sha256_b64url, sign_es256

TOKEN_TYP = "ecard-channel+jwt"  # noqa: S105 (a JWS "typ", not a secret)
AUDIENCE = "ecard-api"
DEFAULT_LIFETIME_S = 60  # the platform accepts up to 300 s; short limits a leaked token

PrivateKeyInput = bytes | str | ec.EllipticCurvePrivateKey


def load_private_key(key: PrivateKeyInput,
                     password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM (bytes or str) or a key object."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        loaded: Any = key
    else:
        data = key.encode("ascii") if isinstance(key, str) else key
        loaded = serialization.load_pem_private_key(data, password=password)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or \
            not isinstance(loaded.curve, ec.SECP256R1):
        raise ValueError("private_key must be an EC P-256 (ES256) private key")
    return loaded  # type: ignore[no-any-return]


class ChannelSigner:
    """Signs channel tokens with one key, loaded once (re-parsing a PEM per call costs
    a fifth to nearly half of the signing time)."""

    def __init__(self, channel_no: str, private_key: PrivateKeyInput, kid: str, *,
                 lifetime_s: int = DEFAULT_LIFETIME_S,
                 new_jti: Callable[[], str] = lambda: secrets.token_urlsafe(18)) -> None:
        if not (len(channel_no) == 10 and channel_no.isascii() and channel_no.isdigit()):
            raise ValueError("channel_no must be the 10-digit channel number")
        if not 0 < lifetime_s <= 300:
            raise ValueError("lifetime_s must be 1..300 seconds")
        self.channel_no = channel_no
        self.kid = kid
        self.lifetime_s = lifetime_s
        self._key = load_private_key(private_key)
        self._new_jti = new_jti
        self._header = json_segment({"alg": "ES256", "typ": TOKEN_TYP, "kid": kid})

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The loaded key (for the other tokens a channel signs: H5 sign-on tickets)."""
        return self._key

    def token(self, method: str, path_with_query: str, body: bytes, now: float) -> str:
        iat = int(now)
        claims = {"iss": self.channel_no, "aud": AUDIENCE, "iat": iat,
                  "exp": iat + self.lifetime_s, "jti": self._new_jti(),
                  "htm": method.upper(), "htu": path_with_query, "bh": sha256_b64url(body)}
        return sign_es256(self._key, self._header, claims)
