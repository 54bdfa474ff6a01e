"""A channel as tests see it: its key pair, and a Flask test client that signs every
request the way the backend expects (the same protocol the SDK implements)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

TOKEN_TYP = "ecard-channel+jwt"
AUDIENCE = "ecard-api"


def body_hash(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()


@dataclass
class ChannelIdentity:
    channel_no: str
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, channel_no: str, kid: str = "k1") -> ChannelIdentity:
        return cls(channel_no, kid, ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_pem(self) -> str:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(self, method: str, path: str, body: bytes = b"", *, now: float | None = None,
              lifetime: int = 60, jti: str | None = None, **overrides: Any) -> str:
        iat = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.channel_no, "aud": AUDIENCE, "iat": iat, "exp": iat + lifetime,
            "jti": jti or secrets.token_urlsafe(16), "htm": method.upper(), "htu": path,
            "bh": body_hash(body),
        }
        claims.update(overrides)
        return jwt.encode(claims, self.private_key, algorithm="ES256",
                          headers={"kid": self.kid, "typ": TOKEN_TYP})


class SignedClient:
    """Wraps a Flask test client: ``client.post(path, json=...)`` signs the call."""

    def __init__(self, client: Any, identity: ChannelIdentity, now: Any = None) -> None:
        self.client = client
        self.identity = identity
        self.now = now  # callable returning a unix time, for frozen clocks

    def request(self, method: str, path: str, json_body: Any = None,
                headers: dict[str, str] | None = None, **token_overrides: Any) -> Any:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        now = self.now() if self.now else None
        token = self.identity.token(method, path, body, now=now, **token_overrides)
        hdrs = {"Authorization": f"Bearer {token}"}
        if json_body is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        return self.client.open(path, method=method, data=body, headers=hdrs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json_body=json if json is not None else {}, **kw)

    def delete(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("DELETE", path, json_body=json, **kw)
