"""Register the sample channels with the platform, as its operator would.

``python -m samples.channel_server.register --callback-url URL`` creates a P-256 key per
sample channel in the sample folder (``instance/sample/`` by default, git-ignored) and
registers the channel through the backend's own command line (``ecard channel add``,
then ``set-status testing`` and ``online``). Run again, it changes nothing; a key file
that was deleted is made again and added as a new key.

- 3000000001, the sample app (type ``social``): its users claim e-cards, show codes,
  pay and certify; the platform POSTs its callbacks to ``--callback-url``.
- 3000000002, the sample hospital (type ``medical``): its terminal scans identity codes
  and charges payment codes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from samples.sample_dir import default_dir


@dataclass(frozen=True)
class SampleChannel:
    channel_no: str
    name: str
    type: str
    receives_callbacks: bool

    @property
    def kid(self) -> str:
        return f"sample-{self.channel_no}"


APP = SampleChannel("3000000001", "样例渠道 App（sample）", "social", True)
HOSPITAL = SampleChannel("3000000002", "样例医院（sample）", "medical", False)


def key_file(folder: Path, channel: SampleChannel) -> tuple[Path, bool]:
    """The channel's private key file, created (mode 0600) when missing."""
    path = folder / f"{channel.channel_no}.pem"
    if path.exists():
        return path, False
    folder.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path, True


def public_key_file(private_path: Path) -> Path:
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public = private_path.with_suffix(".pub.pem")
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return public


def ecard(*args: str) -> subprocess.CompletedProcess[str]:
    """The backend's operator command line, in this environment."""
    return subprocess.run([sys.executable, "-m", "ecard", *args], capture_output=True,
                          text=True, timeout=120)


def _check(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode != 0:
        raise SystemExit(f"ecard {' '.join(done.args[3:])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def register(channel: SampleChannel, folder: Path, callback_url: str | None) -> str:
    """Registers ``channel`` if needed; a line saying what happened."""
    private, created = key_file(folder, channel)
    public = public_key_file(private)
    shown = ecard("channel", "show", channel.channel_no)
    if shown.returncode != 0:
        args = ["channel", "add", "--number", channel.channel_no, "--name", channel.name,
                "--type", channel.type, "--public-key", str(public), "--kid", channel.kid]
        if channel.receives_callbacks and callback_url:
            args += ["--callback-url", callback_url]
        _check(ecard(*args))
        _check(ecard("channel", "set-status", channel.channel_no, "testing"))
        _check(ecard("channel", "set-status", channel.channel_no, "online"))
        return f"{channel.channel_no} registered ({channel.type}), key {private}"
    line = f"{channel.channel_no} already registered"
    if created:  # the key file was deleted: the new key must be known to the platform
        kid = f"{channel.kid}-{os.urandom(3).hex()}"
        _check(ecard("channel", "add-key", channel.channel_no, str(public), "--kid", kid))
        (folder / f"{channel.channel_no}.kid").write_text(kid + "\n")
        line += f", new key {kid}"
    if channel.receives_callbacks and callback_url and callback_url not in shown.stdout:
        line += (f"; WARNING its callback URL is not {callback_url} (the CLI cannot change "
                 "it: run `make clean` for a fresh instance)")
    return line


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--sample-dir", type=Path, default=None)
    p.add_argument("--callback-url", required=True,
                   help="where the platform POSTs the sample app's callbacks")
    args = p.parse_args()
    for channel in (APP, HOSPITAL):
        print(register(channel, args.sample_dir or default_dir(), args.callback_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
