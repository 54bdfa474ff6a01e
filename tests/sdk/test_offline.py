"""The SDK's offline verifier: agreement with the platform's signer, status bits,
staleness reported and enforced, key rotation, rollback, and a clock set back."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from ecard_sdk.codes import InvalidCode, keys_from_jwks, verify_code
from ecard_sdk.offline import Fetched, OfflineVerifier

from ecard.tokens.qr import sign_identity_code_at_time
from ecard.tokens.services import public_jwk
from ecard.tokens.statuslist import build_status_list, sign_status_list

T0 = 1_767_225_600
CH = "1000000001"


class Clocks:
    """A device clock the user can set, and a monotonic clock that only runs."""

    def __init__(self) -> None:
        self.wall = float(T0)
        self.mono = 1000.0

    def run(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class Platform:
    """What the server would publish: a JWKS and status lists, with fetch counts."""

    def __init__(self, clocks: Clocks) -> None:
        self.clocks = clocks
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.active = ""
        self.rotate()
        self.refused: set[int] = set()
        self.seq = 0
        self.server_time: float | None = None  # the HTTP Date, when sent
        self.down = False
        self.jwks_fetches = 0
        self.list_fetches = 0
        self.list_token = ""
        self.publish()

    def rotate(self) -> str:
        self.active = f"kid{len(self.keys) + 1:02d}"
        self.keys[self.active] = ec.generate_private_key(ec.SECP256R1())
        return self.active

    def publish(self, t: int | None = None) -> None:
        self.seq += 1
        status = build_status_list(self.refused, size=1000, sequence=self.seq,
                                   t=int(self.clocks.wall if t is None else t))
        self.list_token = sign_status_list(status, self.keys[self.active], self.active)

    def code(self, index: int = 7, *, t: int | None = None, scenes: tuple[str, ...] = ("01",),
             kid: str | None = None) -> str:
        kid = kid or self.active
        return sign_identity_code_at_time(self.keys[kid], kid, ecard_index=index, channel_no=CH,
                                          t=int(self.clocks.wall if t is None else t),
                                          scenes=scenes)

    def fetch_jwks(self) -> Fetched:
        if self.down:
            raise ConnectionError("offline")
        self.jwks_fetches += 1
        return Fetched({"keys": [public_jwk(k.public_key(), kid)
                                 for kid, k in self.keys.items()]}, self.server_time)

    def fetch_list(self) -> Fetched:
        if self.down:
            raise ConnectionError("offline")
        self.list_fetches += 1
        return Fetched(self.list_token, self.server_time)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def server(clocks: Clocks) -> Platform:
    return Platform(clocks)


def make_verifier(server: Platform, clocks: Clocks, **kw: Any) -> OfflineVerifier:
    return OfflineVerifier(server.fetch_jwks, server.fetch_list, clock=lambda: clocks.wall,
                           monotonic=lambda: clocks.mono, **kw)


def test_sdk_parser_agrees_with_the_platform(server: Platform) -> None:
    token = server.code(123_456_789, scenes=("01", "04"))
    keys = keys_from_jwks(server.fetch_jwks().value)
    claims = verify_code(token, keys)
    assert (claims.ecard_index, claims.channel_no, claims.scenes, claims.exp - claims.iat) == (
        123_456_789, CH, frozenset({"01", "04"}), 60)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "Q"), token + "=", "EC1.." + "A" * 86,
                token.replace("EC1.", "EC2.")):
        with pytest.raises(InvalidCode):
            verify_code(bad, keys)


def test_accepts_reports_ages_and_refuses_a_refused_index(server: Platform,
                                                          clocks: Clocks) -> None:
    server.refused = {9}
    server.publish()
    verifier = make_verifier(server, clocks)
    clocks.run(5)
    good = verifier.verify(server.code(7), scene="01")
    assert good.ok and good.reason is None
    assert (good.jwks_age_s, good.status_list_age_s, good.status_list_seq) == (0, 5, 2)
    bad = verifier.verify(server.code(9))
    assert (bad.ok, bad.reason) == (False, "revoked_or_suspended")
    assert bad.status_list_age_s == 5 and bad.jwks_age_s == 0
    assert verifier.verify(server.code(7), scene="04").reason == "wrong_scene"
    assert verifier.verify("garbage").reason == "invalid"
    assert verifier.verify("garbage").status_list_age_s == 5  # ages in every result
    beyond = verifier.verify(server.code(5000))  # issued after the list: good at its iat
    assert beyond.ok


def test_expiry_on_the_device_clock(server: Platform, clocks: Clocks) -> None:
    verifier = make_verifier(server, clocks)
    code = server.code()
    clocks.run(59)
    assert verifier.verify(code).ok
    clocks.run(1)
    assert verifier.verify(code).reason == "expired"
    assert verifier.verify(server.code(t=int(clocks.wall) + 300)).reason == "not_yet_valid"


def test_status_list_refreshed_when_ttl_old_and_refused_past_max_age(
        server: Platform, clocks: Clocks) -> None:
    verifier = make_verifier(server, clocks, status_max_age_s=120)
    assert verifier.verify(server.code()).ok and server.list_fetches == 1
    clocks.run(30)
    verifier.verify(server.code())
    assert server.list_fetches == 1  # younger than ttl (60 s): no fetch
    server.down = True
    clocks.run(31)
    result = verifier.verify(server.code())
    assert result.ok and result.status_list_age_s == 61  # tried, failed, kept the old list
    assert server.list_fetches == 1
    clocks.run(60)
    stale = verifier.verify(server.code())
    assert (stale.ok, stale.reason, stale.status_list_age_s) == (False, "status_list_stale",
                                                                  121)
    server.down = False
    server.publish()
    clocks.run(10)  # the retry interval has passed
    fresh = verifier.verify(server.code())
    assert fresh.ok and fresh.status_list_age_s == 10


def test_jwks_past_its_max_age_refuses(server: Platform, clocks: Clocks) -> None:
    verifier = make_verifier(server, clocks, jwks_max_age_s=600, status_max_age_s=10_000)
    assert verifier.verify(server.code()).ok
    server.down = True
    clocks.run(601)
    server.publish()  # (the terminal cannot fetch it)
    result = verifier.verify(server.code())
    assert (result.ok, result.reason) == (False, "jwks_stale")
    assert result.jwks_age_s == 601


def test_unknown_kid_fetches_the_jwks_rate_limited(server: Platform, clocks: Clocks) -> None:
    verifier = make_verifier(server, clocks, kid_refresh_interval_s=30)
    assert verifier.verify(server.code()).ok
    assert server.jwks_fetches == 1
    forged_kid = "nope"
    forged = sign_identity_code_at_time(ec.generate_private_key(ec.SECP256R1()), forged_kid,
                                        ecard_index=7, channel_no=CH, t=int(clocks.wall))
    assert verifier.verify(forged).reason == "unknown_key"
    assert verifier.verify(forged).reason == "unknown_key"
    assert server.jwks_fetches == 2  # one refresh for a burst of unknown kids
    clocks.run(31)
    server.publish()
    new_kid = server.rotate()
    result = verifier.verify(server.code())
    assert result.ok and result.claims is not None and result.claims.kid == new_kid
    assert server.jwks_fetches == 3 and new_kid in verifier.key_ids


def test_rolled_back_status_list_is_ignored(server: Platform, clocks: Clocks) -> None:
    server.refused = {7}
    server.publish()
    verifier = make_verifier(server, clocks)
    assert verifier.verify(server.code(7)).reason == "revoked_or_suspended"
    old = server.list_token
    server.refused = set()
    clocks.run(61)
    server.publish(t=int(clocks.wall))
    server.seq = 0
    server.publish(t=int(clocks.wall))  # a newer-looking list with a lower seq (1)
    assert server.list_token != old
    assert verifier.verify(server.code(7)).reason == "revoked_or_suspended"
    assert verifier.status_list is not None and verifier.status_list.sequence == 2


def test_a_clock_set_back_does_not_revive_codes_or_lists(server: Platform,
                                                         clocks: Clocks) -> None:
    verifier = make_verifier(server, clocks, status_max_age_s=300)
    code = server.code()  # a screenshot taken now
    assert verifier.verify(code).ok
    clocks.run(120)
    assert verifier.verify(code).reason == "expired"
    clocks.wall -= 3600  # someone sets the device clock back an hour
    result = verifier.verify(code)
    assert (result.ok, result.reason) == (False, "expired")
    # time still runs (monotonic) from the newest server time seen (the list's iat)
    assert result.checked_at == T0 + 120
    clocks.run(200)  # offline: the list ages by the monotonic clock, not the wall
    server.down = True
    late = verifier.verify(server.code(t=T0 + 320))
    assert late.reason == "status_list_stale" and late.status_list_age_s == 320


def test_http_date_advances_the_trusted_time(server: Platform, clocks: Clocks) -> None:
    clocks.wall -= 86_400  # the device is a day behind
    server.server_time = float(T0)
    verifier = make_verifier(server, clocks)
    result = verifier.verify(server.code(t=T0 - 120))
    assert (result.ok, result.reason, result.checked_at) == (False, "expired", T0)
    assert verifier.verify(server.code(t=T0)).ok
