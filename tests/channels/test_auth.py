"""``authenticate`` itself: the check order, the caches, the injected clock, and one
replay set shared by two app instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from ecard import create_app
from ecard.channels import auth as auth_module
from ecard.channels.auth import ChannelAuthenticator, ChannelDirectory, authenticate, body_hash
from ecard.channels.interfaces import AuthenticatedChannel
from ecard.channels.replay import DatabaseReplayGuard
from ecard.channels.services import change_status, retire_key
from ecard.clock import FrozenClock
from ecard.errors import EcardError
from ecard.platform import Platform
from tests.channels.conftest import OPERATOR, MakeChannel
from tests.support.channel_client import ChannelIdentity

PATH = "/api/v1/ping"


class Ticker:
    """A monotonic clock for the caches that tests move by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def authn(platform: Platform, clock: FrozenClock, ticker: Ticker) -> ChannelAuthenticator:
    sessions = platform.db.sessionmaker
    return ChannelAuthenticator(sessions, DatabaseReplayGuard(platform.db.engine, clock), clock,
                                directory=ChannelDirectory(sessions, monotonic=ticker))


Call = Callable[..., AuthenticatedChannel]


@pytest.fixture
def call(authn: ChannelAuthenticator, clock: FrozenClock) -> Call:
    def run(identity: ChannelIdentity, *, method: str = "POST", path: str = PATH,
            body: bytes = b"{}", sent_body: bytes | None = None, **claims: Any
            ) -> AuthenticatedChannel:
        token = identity.token(method, path, body, now=clock.now().timestamp(), **claims)
        return authn.authenticate(method=method, path_with_query=path,
                                  body=body if sent_body is None else sent_body,
                                  authorization_header=f"Bearer {token}")
    return run


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(EcardError) as exc:
        fn()
    return exc.value.code


def test_accepts_and_describes_the_channel(make_channel: MakeChannel, call: Call) -> None:
    identity = make_channel()
    caller = call(identity)
    assert (caller.channel_no, caller.kid, caller.status, caller.level) == (
        "1000000001", "k1", "online", 1)


def test_check_order(make_channel: MakeChannel, call: Call, clock: FrozenClock) -> None:
    identity = make_channel()
    impostor = ChannelIdentity.generate("1000000001", "k1")
    # unknown key is reported before the (also bad) signature
    assert _code(lambda: call(ChannelIdentity("1000000001", "zz", impostor.private_key))
                 ) == "AUTH_UNKNOWN_KEY"
    # a bad signature hides everything after it: expiry, binding
    assert _code(lambda: call(impostor, lifetime=999, htu="/x")) == "AUTH_BAD_SIGNATURE"
    # lifetime before expiry, expiry before binding
    assert _code(lambda: call(identity, lifetime=999, htu="/x")) == "AUTH_LIFETIME_TOO_LONG"
    old = clock.now().timestamp() - 600
    assert _code(lambda: call(identity, iat=int(old), exp=int(old) + 60, htu="/x")
                 ) == "AUTH_EXPIRED"


def test_status_before_jti_and_refusals_do_not_burn_it(make_channel: MakeChannel,
                                                       call: Call, platform: Platform,
                                                       ticker: Ticker) -> None:
    identity = make_channel()
    jti = "same-jti-0123456789"
    assert _code(lambda: call(identity, jti=jti, sent_body=b"{ }")) == "AUTH_BINDING_MISMATCH"
    assert _code(lambda: call(identity, jti=jti, lifetime=301)) == "AUTH_LIFETIME_TOO_LONG"
    with platform.db.transaction() as session:
        change_status(session, platform.clock, OPERATOR, "1000000001", "suspended")
    ticker.t += 5.1
    assert _code(lambda: call(identity, jti=jti)) == "CHANNEL_SUSPENDED"
    with platform.db.transaction() as session:
        change_status(session, platform.clock, OPERATOR, "1000000001", "online")
    ticker.t += 5.1
    assert call(identity, jti=jti).jti == jti
    assert _code(lambda: call(identity, jti=jti)) == "AUTH_REPLAYED"


@pytest.mark.parametrize("claims", [
    {"jti": "short"}, {"jti": "has spaces in it, sixteen+"}, {"jti": "x" * 129},
    {"iat": "now"}, {"exp": True}, {"htm": None}, {"bh": 5}, {"exp": 0},
])
def test_malformed_claims_after_signature(make_channel: MakeChannel, call: Call,
                                          claims: dict[str, Any]) -> None:
    identity = make_channel()
    with pytest.raises(EcardError) as exc:
        call(identity, **claims)
    assert exc.value.code == "AUTH_MALFORMED"
    assert exc.value.details and "claim" in exc.value.details


def test_time_comes_from_the_injected_clock(make_channel: MakeChannel, call: Call,
                                            authn: ChannelAuthenticator,
                                            clock: FrozenClock) -> None:
    identity = make_channel()
    token = identity.token("POST", PATH, b"{}", now=clock.now().timestamp(), lifetime=60)
    clock.advance(seconds=60)
    assert _code(lambda: authn.authenticate(
        method="POST", path_with_query=PATH, body=b"{}",
        authorization_header=f"Bearer {token}")) == "AUTH_EXPIRED"
    clock.advance(seconds=-1)
    assert authn.authenticate(method="POST", path_with_query=PATH, body=b"{}",
                              authorization_header=f"Bearer {token}").channel_no


def test_method_is_compared_upper_case(make_channel: MakeChannel, authn: ChannelAuthenticator,
                                       clock: FrozenClock) -> None:
    identity = make_channel()
    token = identity.token("post", PATH, b"", now=clock.now().timestamp())
    assert authn.authenticate(method="post", path_with_query=PATH, body=b"",
                              authorization_header=f"bearer {token}")


def test_key_objects_are_cached_for_30_s(make_channel: MakeChannel, call: Call,
                                         platform: Platform, ticker: Ticker,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    identity = make_channel()
    loads: list[str] = []
    real = auth_module.load_public_pem
    monkeypatch.setattr(auth_module, "load_public_pem",
                        lambda pem: loads.append(pem) or real(pem))
    for _ in range(5):
        call(identity)
    assert len(loads) == 1  # PEM parsed once, not per call
    with platform.db.transaction() as session:
        retire_key(session, platform.clock, OPERATOR, "1000000001", "k1")
    ticker.t += 29
    call(identity)  # still cached: a retired key may work for up to 30 s
    ticker.t += 1.5
    assert _code(lambda: call(identity)) == "AUTH_UNKNOWN_KEY"


def test_status_is_at_most_5_s_stale(make_channel: MakeChannel, call: Call,
                                     platform: Platform, ticker: Ticker) -> None:
    identity = make_channel()
    call(identity)
    with platform.db.transaction() as session:
        change_status(session, platform.clock, OPERATOR, "1000000001", "suspended")
    ticker.t += 4.9
    call(identity)
    ticker.t += 0.2
    assert _code(lambda: call(identity)) == "CHANNEL_SUSPENDED"


def test_new_channel_and_key_are_seen_at_once(call: Call, make_channel: MakeChannel) -> None:
    identity = ChannelIdentity.generate("1000000001")
    assert _code(lambda: call(identity)) == "AUTH_UNKNOWN_CHANNEL"
    identity = make_channel("1000000001")  # no negative caching
    assert call(identity).channel_no == "1000000001"


def test_function_form_with_a_session(make_channel: MakeChannel, platform: Platform,
                                      clock: FrozenClock) -> None:
    identity = make_channel()
    token = identity.token("GET", "/api/v1/channel?x=1", b"", now=clock.now().timestamp())
    guard = DatabaseReplayGuard(platform.db.engine, clock)
    with platform.db.sessionmaker() as session:
        caller = authenticate(session, guard, method="GET", path_with_query="/api/v1/channel?x=1",
                              body=b"", authorization_header=f"Bearer {token}", clock=clock,
                              config=platform.config)
    assert caller.claims["bh"] == body_hash(b"")


def test_replay_across_two_app_instances(app: Flask, make_channel: MakeChannel,
                                         test_config: dict[str, Any],
                                         clock: FrozenClock) -> None:
    """Two apps (think: two gunicorn workers or two machines) share one database."""
    other = create_app(test_config, clock=clock)
    try:
        identity = make_channel()
        token = identity.token("POST", PATH, b"{}", now=clock.now().timestamp())
        headers = {"Authorization": f"Bearer {token}"}
        first = app.test_client().post(PATH, data=b"{}", headers=headers)
        assert first.status_code == 200
        second = other.test_client().post(PATH, data=b"{}", headers=headers)
        assert second.status_code == 401
        assert second.get_json()["code"] == "AUTH_REPLAYED"
    finally:
        other.extensions["ecard"].db.dispose()


def test_expired_row_is_not_needed(make_channel: MakeChannel, call: Call,
                                   clock: FrozenClock) -> None:
    """A token replayed after it expired is refused as expired (its jti row may be gone)."""
    identity = make_channel()
    token_time = clock.now().timestamp()
    call(identity, jti="k" * 16)
    clock.advance(seconds=120)
    with pytest.raises(EcardError) as exc:
        call(identity, jti="k" * 16, iat=int(token_time), exp=int(token_time) + 60)
    assert exc.value.code == "AUTH_EXPIRED"
