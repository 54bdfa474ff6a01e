"""``python -m samples.terminal IMAGE``: what a counter terminal does with a scanned QR.

An identity code (``EC1.…``) is checked offline first (signature, expiry, scene and the
e-card's bit in the status list, from the terminal's cached JWKS and list) and, when
that passes, online with the scene code: the platform redeems it once and releases the
attributes this terminal's channel may receive. An 18-digit payment code is charged
(``--amount-fen``) as the terminal's merchant channel.

Exit status: 0 accepted (or payment captured / waiting for the holder's PIN),
1 refused (offline or online, the reason printed), 2 the image holds no readable
code or the command line is wrong, 3 the platform could not be reached for a check
that needs it.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import zxingcpp
from ecard_sdk import EcardClient, OfflineVerifier, VerifyResult
from ecard_sdk.errors import APIConnectionError, EcardError
from PIL import Image, UnidentifiedImageError

from samples.sample_dir import default_dir, kid_of
from samples.terminal.cache import DiskCachedFetchers

ACCEPTED, REFUSED, BAD_INPUT, UNREACHABLE = 0, 1, 2, 3
SCENES = {"01": "query", "02": "payment", "03": "other", "04": "cross-region medical"}
PAYMENT_CODE = re.compile(r"^81\d{16}$")
DEFAULT_CHANNEL = "3000000002"  # the sample hospital, registered by samples.channel_server.setup


QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def read_qr(path: Path) -> str:
    """The text of the one QR code in the image (ValueError when there is none)."""
    try:
        with Image.open(path) as img:
            img.load()
            results = zxingcpp.read_barcodes(img, formats=QR_ONLY)
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"cannot read the image {path}: {exc}") from exc
    # one symbol may be reported twice by the decoder; two different texts are refused
    texts = sorted({r.text for r in results if r.valid})
    if len(texts) != 1:
        raise ValueError(f"expected one QR code in {path}, found {len(texts)}")
    return texts[0]


def _age(seconds: float | None) -> str:
    return "none" if seconds is None else f"{seconds:.0f} s old"


def describe_offline(result: VerifyResult) -> str:
    fresh = (f"JWKS {_age(result.jwks_age_s)}, status list "
             f"{'seq ' + str(result.status_list_seq) + ', ' if result.status_list_seq else ''}"
             f"{_age(result.status_list_age_s)}")
    claims = result.claims
    if claims is None:
        return f"({fresh})"
    left = claims.exp - result.checked_at
    life = f"expires in {left:.0f} s" if left > 0 else f"expired {-left:.0f} s ago"
    return (f"e-card #{claims.ecard_index} shown from channel {claims.channel_no}, scenes "
            f"{','.join(sorted(claims.scenes))}, {life} ({fresh})")


class Terminal:
    """One terminal: its channel identity, its cached verifier, where it prints."""

    def __init__(self, base_url: str, cache_dir: Path, *, offline_only: bool,
                 client: EcardClient | None, out: TextIO) -> None:
        self.fetchers = DiskCachedFetchers(base_url, cache_dir, offline=offline_only)
        self.verifier = OfflineVerifier(self.fetchers.jwks, self.fetchers.status_list)
        self.client = client
        self.out = out

    def say(self, label: str, text: str) -> None:
        print(f"{label:<9} {text}", file=self.out)

    def identity_code(self, code: str, scene: str, attributes: list[str] | None) -> int:
        self.say("code", f"identity code {code[:12]}… ({len(code)} characters), scene "
                         f"{scene} ({SCENES.get(scene, 'unknown')})")
        result = self.verifier.verify(code, scene=scene)
        if self.fetchers.used_cache:
            self.say("cache", "platform unreachable: judged against the cached "
                              + " and ".join(sorted(self.fetchers.used_cache)))
        if not result.ok:
            self.say("offline", f"REFUSED {result.reason} {describe_offline(result)}")
            return self.verdict(REFUSED, f"refused offline: {result.reason}")
        self.say("offline", f"OK {describe_offline(result)}")
        if self.client is None:
            return self.verdict(ACCEPTED, "accepted offline (no online check asked)")
        try:
            answer = self.client.identity_codes.verify(code, scene, attributes=attributes)
        except APIConnectionError as exc:
            self.say("online", f"UNREACHABLE {exc}")
            return self.verdict(UNREACHABLE, "offline check passed; the online check could "
                                             "not reach the platform")
        except EcardError as exc:
            self.say("online", f"REFUSED {exc.code}: {exc.message}")
            return self.verdict(REFUSED, f"refused online: {exc.code}")
        released = answer.get("attributes") or {}
        self.say("online", f"OK redeemed at {answer.get('redeemed_at')}, released "
                           f"{len(released)} attributes")
        for name in sorted(released):
            self.say("", f"{name:<16} {released[name]}")
        return self.verdict(ACCEPTED, "identity confirmed")

    def payment_code(self, code: str, amount_fen: int | None, order_id: str | None) -> int:
        self.say("code", f"payment code {code[:11]}••••••• (18 digits)")
        if amount_fen is None:
            self.say("error", "a payment code needs --amount-fen")
            return BAD_INPUT
        if self.client is None:
            self.say("error", "a payment code can only be charged online")
            return BAD_INPUT
        order = order_id or f"T{int(time.time())}-{secrets.token_hex(3)}"
        try:
            payment = self.client.payments.create(code=code, amount_fen=amount_fen,
                                                  order_id=order, scene="02")
        except APIConnectionError as exc:
            self.say("payment", f"UNREACHABLE {exc}")
            return self.verdict(UNREACHABLE, "the platform could not be reached")
        except EcardError as exc:
            self.say("payment", f"REFUSED {exc.code}: {exc.message}")
            return self.verdict(REFUSED, f"payment refused: {exc.code}")
        self.say("payment", f"{payment['status']} {payment['payment_id']} order "
                            f"{payment['order_id']} {payment['amount_fen'] / 100:.2f} "
                            f"{payment['currency']}")
        if payment["status"] == "pending_pin":
            return self.verdict(ACCEPTED, "waiting for the holder to confirm with the PIN "
                                          f"before {payment.get('confirm_before')}")
        if payment["status"] == "captured":
            return self.verdict(ACCEPTED, "paid")
        return self.verdict(REFUSED, f"payment {payment['status']}")

    def verdict(self, status: int, text: str) -> int:
        word = {ACCEPTED: "ACCEPTED", REFUSED: "REFUSED", UNREACHABLE: "UNCERTAIN"}[status]
        self.say("RESULT", f"{word}: {text}")
        return status


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m samples.terminal",
        description="Scan a QR image: verify an identity code offline, then online with a "
                    "scene code; or charge a payment code.",
        epilog="Exit status: 0 accepted, 1 refused, 2 no readable code / bad arguments, "
               "3 platform unreachable.")
    p.add_argument("image", type=Path, help="PNG/JPEG holding the QR code")
    p.add_argument("--scene", default="01", choices=sorted(SCENES),
                   help="scene code sent with the scan (default 01, query)")
    p.add_argument("--attributes", help="comma-separated attributes wanted (default: all "
                                        "this channel may receive in the scene)")
    p.add_argument("--offline-only", action="store_true",
                   help="no network at all: judge with the cached JWKS and status list")
    p.add_argument("--amount-fen", type=int, help="amount to charge a payment code")
    p.add_argument("--order-id", help="merchant order id of the charge (default: generated)")
    p.add_argument("--ecard-url", default=os.environ.get(
        "ECARD_URL", f"http://127.0.0.1:{os.environ.get('ECARD_PORT', '8000')}"))
    p.add_argument("--channel-no", default=os.environ.get("ECARD_TERMINAL_CHANNEL",
                                                          DEFAULT_CHANNEL))
    p.add_argument("--key", type=Path, help="the channel's private key (PEM); default "
                                            "<sample dir>/<channel>.pem")
    p.add_argument("--kid", help="its key id (default sample-<channel>)")
    p.add_argument("--cache-dir", type=Path,
                   help="where the JWKS and status list are kept (default <sample dir>/"
                        "terminal-cache)")
    p.add_argument("--sample-dir", type=Path, default=None,
                   help="the samples' folder (default: instance/sample)")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        text = read_qr(args.image)
    except ValueError as exc:
        print(f"error     {exc}", file=out)
        return BAD_INPUT
    client = None
    sample_dir: Path = args.sample_dir or default_dir()
    if not args.offline_only:
        key_path = args.key or sample_dir / f"{args.channel_no}.pem"
        try:
            pem = key_path.read_bytes()
        except OSError as exc:
            print(f"error     cannot read the terminal's channel key: {exc} (run make sample "
                  "once, or pass --key, or --offline-only)", file=out)
            return BAD_INPUT
        client = EcardClient(base_url=args.ecard_url, channel_no=args.channel_no,
                             private_key=pem, kid=args.kid or kid_of(sample_dir, args.channel_no),
                             accept_language="en", max_network_retries=1)
    terminal = Terminal(args.ecard_url, args.cache_dir or sample_dir / "terminal-cache",
                        offline_only=args.offline_only, client=client, out=out)
    print(f"terminal  channel {args.channel_no} at {args.ecard_url} "
          f"({datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)", file=out)
    if PAYMENT_CODE.match(text):
        return terminal.payment_code(text, args.amount_fen, args.order_id)
    if text.startswith("EC1."):
        attributes = args.attributes.split(",") if args.attributes else None
        return terminal.identity_code(text, args.scene, attributes)
    print(f"error     not an e-card code: {text[:24]!r}", file=out)
    return BAD_INPUT
