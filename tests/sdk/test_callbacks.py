"""verify_callback: callbacks the platform's worker really delivers pass; every
refusal has its reason; a rotated key is fetched; replay caches bound and shared."""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from ecard_sdk import EcardClient, JwksCache, MemoryReplayCache, verify_callback
from ecard_sdk.callbacks import RedisReplayCache, ReplayCache
from ecard_sdk.errors import CallbackVerificationError, EcardError

from ecard.audit.services import Actor
from ecard.channels.models import Channel
from ecard.clock import FrozenClock
from ecard.notifications.models import Notification
from ecard.notifications.retry import RetrySchedule
from ecard.notifications.signing import SignedCallback, sign_callback
from ecard.notifications.transport import RequestsTransport
from ecard.notifications.worker import CallbackWorker
from ecard.platform import Platform
from ecard.tokens.services import create_signing_key, public_jwk
from tests.cards.helpers import GOOD_PIN
from tests.support.payments import HOLDER_CH, Card

T = 1_767_225_600


def note(id_: int = 42, channel_no: str = HOLDER_CH, event: str = "suspended") -> Notification:
    return Notification(id=id_, channel_no=channel_no, sign_no="110101AAAA", event=event,
                        payload={"sign_no": "110101AAAA", "status": "suspended",
                                 "reason": "card_lost"},
                        created_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC))


def signed(platform: Platform, n: Notification | None = None, attempt: int = 1,
           now: int = T) -> SignedCallback:
    return sign_callback(platform.keyring, n or note(), attempt, now)


def check(platform: Platform, cb: SignedCallback, *, now: float = T,
          seen: ReplayCache | None = None, channel_no: str = HOLDER_CH,
          jwks: Any = None) -> Any:
    return verify_callback(cb.body, cb.headers, channel_no=channel_no, now=now,
                           jwks_or_fetch=jwks if jwks is not None else platform.keyring.jwks(),
                           seen=seen if seen is not None else fresh_cache())


def fresh_cache(at: float = T) -> MemoryReplayCache:
    """A cache whose clock agrees with the ``now`` the checks are made at."""
    return MemoryReplayCache(clock=lambda: at)


def reason(platform: Platform, cb: SignedCallback, **kw: Any) -> str:
    with pytest.raises(CallbackVerificationError) as exc:
        check(platform, cb, **kw)
    assert isinstance(exc.value, EcardError) and exc.value.code == "CALLBACK_INVALID"
    return exc.value.reason


def test_a_signed_callback_verifies(platform: Platform) -> None:
    doc = check(platform, signed(platform))
    assert (doc.id, doc.event, doc.data.reason) == ("42", "suspended", "card_lost")
    lower = signed(platform)
    headers = {k.lower(): v for k, v in lower.headers.items()}  # any header spelling
    assert verify_callback(lower.body, headers, jwks_or_fetch=platform.keyring.jwks,
                           channel_no=HOLDER_CH, now=T, seen=None).id == "42"


def test_every_refusal_names_its_check(platform: Platform) -> None:
    cb = signed(platform)
    token = cb.headers["Ecard-Signature"]
    head, claims, sig = token.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    assert reason(platform, SignedCallback(cb.body, {**cb.headers, "Ecard-Signature":
                                                     f"{head}.{claims}.{flipped}"})) \
        == "bad_signature"
    assert reason(platform, cb, channel_no="1000000009") == "wrong_audience"
    assert reason(platform, cb, now=T + 301) == "stale"
    assert reason(platform, cb, now=T - 301) == "issued_in_future"
    assert reason(platform, cb, now=T + 300) == "expired"
    tampered = cb.body.replace(b"card_lost", b"card_fine")
    assert reason(platform, SignedCallback(tampered, cb.headers)) == "body_hash_mismatch"
    assert reason(platform, SignedCallback(cb.body, {})) == "missing_signature"
    assert reason(platform, SignedCallback(cb.body, {"Ecard-Signature": "abc.def"})) \
        == "malformed"
    other = ec.generate_private_key(ec.SECP256R1())
    assert reason(platform, cb, jwks={"keys": [public_jwk(other.public_key(), "old")]}) \
        == "unknown_kid"
    seen = fresh_cache()
    check(platform, cb, seen=seen)
    assert reason(platform, cb, seen=seen) == "replayed"
    # the retry of the same notification is a new attempt (new jti): accepted
    assert check(platform, signed(platform, attempt=2), seen=seen).id == "42"


def test_claims_and_body_checks(platform: Platform) -> None:
    """Tokens a platform key would never sign, made with a key of a test JWKS."""
    from ecard_sdk._jws import json_segment, sha256_b64url, sign_es256
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [public_jwk(key.public_key(), "t1")]}
    body = signed(platform).body  # notification 42 of HOLDER_CH

    def forge(typ: str = "ecard-callback+jwt", alg: str = "ES256", body: bytes = body,
              **claims: Any) -> SignedCallback:
        base = {"iss": "ecard", "aud": HOLDER_CH, "iat": T, "exp": T + 300, "jti": "42.1",
                "bh": sha256_b64url(body)}
        token = sign_es256(key, json_segment({"alg": alg, "typ": typ, "kid": "t1"}),
                           {**base, **claims})
        return SignedCallback(body, {"Ecard-Signature": token})

    assert check(platform, forge(), jwks=jwks).id == "42"
    assert reason(platform, forge(typ="JWT"), jwks=jwks) == "bad_header"
    assert reason(platform, forge(alg="HS256"), jwks=jwks) == "bad_header"
    assert reason(platform, forge(iss="someone"), jwks=jwks) == "wrong_issuer"
    assert reason(platform, forge(exp=T + 3600), jwks=jwks) == "lifetime_too_long"
    assert reason(platform, forge(iat="now"), jwks=jwks) == "malformed"
    assert reason(platform, forge(jti="43.1"), jwks=jwks) == "id_mismatch"
    other = body.replace(HOLDER_CH.encode(), b"1000000009")
    assert reason(platform, forge(body=other), jwks=jwks) == "wrong_channel"
    assert reason(platform, forge(body=b"[1]"), jwks=jwks) == "body_invalid"
    assert reason(platform, forge(body=b"\xff"), jwks=jwks) == "body_invalid"


def test_body_must_match_the_token(platform: Platform) -> None:
    cb = signed(platform)
    assert check(platform, cb).channel_no == HOLDER_CH
    other_id = signed(platform, note(id_=43))
    # the token of notification 43 over the body of notification 42
    swapped = SignedCallback(cb.body, other_id.headers)
    assert reason(platform, swapped) == "body_hash_mismatch"


def test_unknown_kid_refetches_the_jwks(platform: Platform, clock: FrozenClock) -> None:
    fetched: list[int] = []
    mono = [0.0]

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        return platform.keyring.jwks()

    cache = JwksCache(fetch, min_refetch_interval_s=30, monotonic=lambda: mono[0])
    check(platform, signed(platform), jwks=cache)
    assert len(fetched) == 1
    with platform.db.transaction() as session:  # the platform rotates its key
        create_signing_key(session, platform.protector, clock, Actor.system())
    platform.keyring.reload()
    rotated = signed(platform, note(id_=44))
    assert check(platform, rotated, jwks=cache).id == "44"
    assert len(fetched) == 2
    # a junk kid refetches at most once per interval
    from ecard_sdk._jws import json_segment, sign_es256
    odd = ec.generate_private_key(ec.SECP256R1())
    junk = sign_es256(odd, json_segment({"alg": "ES256", "typ": "ecard-callback+jwt",
                                         "kid": "junk"}), {"iss": "ecard"})
    for _ in range(3):
        assert reason(platform, SignedCallback(rotated.body, {"Ecard-Signature": junk}),
                      jwks=cache) == "unknown_kid"
    assert len(fetched) == 2
    mono[0] += 31
    reason(platform, SignedCallback(rotated.body, {"Ecard-Signature": junk}), jwks=cache)
    assert len(fetched) == 3
    # a failing platform: the keys held still serve, no fetch storm
    platform_down = JwksCache(lambda: (_ for _ in ()).throw(OSError("down")),
                              monotonic=lambda: mono[0])
    assert reason(platform, rotated, jwks=platform_down) == "unknown_kid"


def test_memory_cache_is_bounded_and_refuses_when_full(platform: Platform) -> None:
    now = [float(T)]
    seen = MemoryReplayCache(max_entries=2, clock=lambda: now[0])
    check(platform, signed(platform, note(id_=1)), seen=seen)
    check(platform, signed(platform, note(id_=2)), seen=seen)
    assert reason(platform, signed(platform, note(id_=3)), seen=seen) == "replay_cache_full"
    now[0] += 300  # the first two expired: room again
    assert check(platform, signed(platform, note(id_=3), now=T + 300), now=T + 300,
                 seen=seen).id == "3"
    assert len(seen) == 1


@pytest.mark.skipif(not os.environ.get("ECARD_TEST_REDIS_URL"),
                    reason="Redis not configured: set ECARD_TEST_REDIS_URL to run this")
def test_redis_cache_is_shared(platform: Platform) -> None:
    import redis
    client = redis.Redis.from_url(os.environ["ECARD_TEST_REDIS_URL"])
    prefix = f"test:{random.getrandbits(64):x}:"
    first = RedisReplayCache(client, prefix=prefix, clock=lambda: float(T))
    second = RedisReplayCache(client, prefix=prefix, clock=lambda: float(T))  # another process
    cb = signed(platform)
    check(platform, cb, seen=first)
    assert reason(platform, cb, seen=second) == "replayed"
    assert 0 < client.ttl(prefix + "42.1") <= 301
    client.delete(prefix + "42.1")


@contextmanager
def receiver(platform: Platform, clock: FrozenClock, jwks: JwksCache,
             got: list[Any], refused: list[str]) -> Iterator[str]:
    seen = MemoryReplayCache()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                got.append(verify_callback(body, self.headers, jwks_or_fetch=jwks,
                                           channel_no=HOLDER_CH, seen=seen,
                                           now=clock.now().timestamp()))
                self.send_response(204)
            except CallbackVerificationError as exc:
                refused.append(exc.reason)
                self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ecard/callback"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_worker_deliveries_verify_end_to_end(platform: Platform, clock: FrozenClock,
                                             holder: EcardClient, card: Card,
                                             base_url: str) -> None:
    """The real worker POSTs real callbacks; the channel checks them with the SDK,
    fetching the JWKS from the running platform."""
    got: list[Any] = []
    refused: list[str] = []
    jwks = JwksCache.from_url(base_url)
    with receiver(platform, clock, jwks, got, refused) as url:
        with platform.db.transaction() as session:
            channel = session.get(Channel, HOLDER_CH)
            assert channel is not None
            channel.callback_url = url
        holder.cards.verify_pin(card.sign_no, GOOD_PIN)
        holder.cards.unlink(card.sign_no, pin=GOOD_PIN)
        worker = CallbackWorker(platform.db, platform.keyring, platform.clock,
                                RequestsTransport(2.0, 5.0),
                                schedule=RetrySchedule(5, rng=random.Random(1)))
        try:
            stats = worker.drain()
        finally:
            worker.close()
    assert refused == [] and stats.delivered == len(got) >= 2
    events = [d.event for d in got]
    assert events.index("pin_verified") < events.index("unlinked")
    assert {d.sign_no for d in got} == {card.sign_no}
    assert jwks.fetches == 1
    assert json.loads(json.dumps(got[0]))["channel_no"] == HOLDER_CH
