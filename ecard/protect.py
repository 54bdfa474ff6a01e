"""Protection of personal data at rest and in output.

One master secret (``instance/master.key`` written by ``ecard init``, or
``ECARD_MASTER_KEY`` in production) never encrypts anything itself: each purpose
gets its own key derived with HKDF and a purpose label, so that a blind index can
never be confused with a ciphertext key or a pseudonym key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_FILE = "master.key"
_NONCE_BYTES = 12
_VERSION = b"\x01"


class MasterKeyMissing(RuntimeError):
    """No master key: run ``ecard init`` or set ECARD_MASTER_KEY."""


class DecryptionFailed(Exception):
    """A ciphertext was tampered with, or belongs to another record or key."""


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def write_master_key(instance_dir: Path) -> Path:
    """Create ``instance_dir/master.key`` (0600) unless it exists; return its path."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / MASTER_KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_master_key() + "\n")
    return path


def load_master_key(configured: str | None, instance_dir: Path) -> bytes:
    text = configured
    if not text:
        path = instance_dir / MASTER_KEY_FILE
        if not path.exists():
            raise MasterKeyMissing(
                f"no master key: run 'ecard init' (writes {path}) or set ECARD_MASTER_KEY")
        text = path.read_text().strip()
    raw = base64.urlsafe_b64decode(text.encode())
    if len(raw) != 32:
        raise MasterKeyMissing("the master key must be 32 random bytes, base64url-encoded")
    return raw


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ecard/v1",
                info=purpose.encode()).derive(master)


@dataclass(frozen=True)
class DataProtector:
    """Field encryption (AES-256-GCM), blind indexes and per-channel pseudonyms."""

    enc_key: bytes
    index_key: bytes
    pseudonym_key: bytes
    wrap_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> DataProtector:
        return cls(
            enc_key=_derive(master, "field-encryption"),
            index_key=_derive(master, "blind-index"),
            pseudonym_key=_derive(master, "channel-pseudonym"),
            wrap_key=_derive(master, "signing-key-wrap"),
        )

    # -- encryption --------------------------------------------------------
    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        """Encrypt ``plaintext``; ``context`` (e.g. ``"person.id_number"``) is bound
        as associated data so a ciphertext cannot be moved to another column."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + AESGCM(self.enc_key).encrypt(nonce, plaintext, context.encode())

    def decrypt(self, blob: bytes, context: str) -> bytes:
        return _open(self.enc_key, blob, context)

    def encrypt_str(self, text: str, context: str) -> bytes:
        return self.encrypt(text.encode(), context)

    def decrypt_str(self, blob: bytes, context: str) -> str:
        return self.decrypt(blob, context).decode()

    def wrap(self, secret: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + AESGCM(self.wrap_key).encrypt(nonce, secret, context.encode())

    def unwrap(self, blob: bytes, context: str) -> bytes:
        return _open(self.wrap_key, blob, context)

    # -- lookups -----------------------------------------------------------
    def blind_index(self, value: str, purpose: str = "id_number") -> str:
        """Deterministic keyed hash for equality lookup without storing the value."""
        mac = hmac.new(self.index_key, f"{purpose}:{value}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def pseudonym(self, channel_no: str, person_key: str) -> str:
        """The holder's identifier as one channel sees it: stable for that channel,
        unlinkable across channels without the platform's key."""
        mac = hmac.new(self.pseudonym_key, f"{channel_no}:{person_key}".encode(), hashlib.sha256)
        return base64.b32encode(mac.digest()[:20]).decode().rstrip("=")


def _open(key: bytes, blob: bytes, context: str) -> bytes:
    if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
        raise DecryptionFailed("not an ecard ciphertext")
    nonce, body = blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, context.encode())
    except Exception as exc:  # cryptography raises InvalidTag
        raise DecryptionFailed("ciphertext does not authenticate") from exc


# -- masking for responses and logs ----------------------------------------------
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_id_number(id_number: str) -> str:
    """``110101199003071234`` → ``1101**********1234``."""
    if len(id_number) != 18:
        return "*" * len(id_number)
    return id_number[:4] + "*" * 10 + id_number[-4:]


def mask_name(name: str) -> str:
    """``张三`` → ``*三``; ``欧阳娜娜`` → ``**娜娜``; Latin names keep the first letter."""
    if not name:
        return name
    if name.isascii():
        return name[0] + "*" * (len(name) - 1)
    keep = 1 if len(name) <= 3 else 2
    return "*" * (len(name) - keep) + name[-keep:]


def mask_card_number(card_no: str) -> str:
    return card_no[:2] + "*" * max(len(card_no) - 4, 0) + card_no[-2:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_text(text: str) -> str:
    """Mask every citizen ID number that appears in free text (log lines)."""
    return _ID_RE.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
