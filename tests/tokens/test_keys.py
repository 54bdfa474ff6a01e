"""The platform's keys as a channel sees them: the JWKS, offline verification of an
e-card credential, rotation and retirement through the ``ecard keys`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from flask import Flask

from ecard.cli import main as cli
from ecard.platform import Platform
from ecard.tokens.interfaces import InvalidToken
from tests.cards.helpers import GOOD_PIN, make_channel
from tests.support.channel_client import SignedClient
from tests.support.factories import make_holder, passed_session

BANK, GOV = "1000000001", "2000000002"
TYP = "ecard-credential+jwt"


@pytest.fixture
def as_bank(app: Flask, cached_platform: Platform) -> SignedClient:
    return SignedClient(app.test_client(), make_channel(cached_platform, BANK))


@pytest.fixture
def sign_no(as_bank: SignedClient, cached_platform: Platform, faces_dir: Path) -> str:
    holder = make_holder(cached_platform, photo=faces_dir / "people/person_04/img1.jpg")
    res = as_bank.post("/api/v1/cards", json={
        "name": holder.name, "id_number": holder.id_number, "card_no": holder.card_no,
        "certification_session_id": passed_session(cached_platform, holder.person_id, BANK),
        "pin": GOOD_PIN})
    assert res.status_code == 201, res.get_json()
    value: str = res.get_json()["sign_no"]
    return value


def _jwks(client: Any) -> dict[str, Any]:
    res = client.get("/.well-known/jwks.json")
    assert res.status_code == 200
    keys: dict[str, Any] = res.get_json()
    return keys


def verify_offline(token: str, jwks: dict[str, Any], audience: str) -> dict[str, Any]:
    """What a channel's server does with nothing but the cached JWKS."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == TYP and header["alg"] == "ES256"
    matching = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    if not matching:
        raise jwt.InvalidKeyError(f"kid {header['kid']} is not in the JWKS")
    key = jwt.PyJWK(matching[0])
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["ES256"],
                                        audience=audience, issuer="ecard")
    return claims


def _run(app: Flask, *args: str) -> str:
    env = {"ECARD_DATABASE_URL": app.config["DATABASE_URL"],
           "ECARD_MASTER_KEY": app.config["MASTER_KEY"],
           "ECARD_INSTANCE_DIR": app.config["INSTANCE_DIR"]}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_jwks_publishes_public_keys_only(client: Any, cached_platform: Platform) -> None:
    jwks = _jwks(client)
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert "d" not in key
    assert "max-age" in client.get("/.well-known/jwks.json").headers["Cache-Control"]


def test_credential_verifies_offline(as_bank: SignedClient, sign_no: str, client: Any,
                                     cached_platform: Platform) -> None:
    res = as_bank.get(f"/api/v1/cards/{sign_no}/credential")
    assert res.status_code == 200
    body = res.get_json()
    claims = verify_offline(body["credential"], _jwks(client), BANK)
    card = as_bank.get(f"/api/v1/cards/{sign_no}").get_json()
    assert claims["sub"] == card["openid"] and claims["sign_no"] == sign_no
    assert (claims["level"], claims["status"], claims["region"]) == (1, "active", "110101")
    assert claims["name_masked"] == "*三" and claims["aud"] == BANK
    assert claims["exp"] - claims["iat"] == cached_platform.config["CREDENTIAL_TTL_S"]
    assert body["kid"] == jwt.get_unverified_header(body["credential"])["kid"]
    assert len(claims["jti"]) >= 16
    # the platform's own verifier agrees; another audience does not
    assert cached_platform.keyring.verify(body["credential"], typ=TYP, audience=BANK)["jti"]
    with pytest.raises(jwt.InvalidAudienceError):
        verify_offline(body["credential"], _jwks(client), GOV)
    head, payload, sig = body["credential"].split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA"
    with pytest.raises(jwt.InvalidSignatureError):
        verify_offline(forged, _jwks(client), BANK)


def test_rotation_keeps_old_credentials_until_retirement(
        app: Flask, as_bank: SignedClient, sign_no: str, client: Any,
        cached_platform: Platform) -> None:
    old = as_bank.get(f"/api/v1/cards/{sign_no}/credential").get_json()
    old_kid = old["kid"]

    out = _run(app, "keys", "rotate")
    new_kid = out.strip().rsplit("kid=", 1)[1]
    assert new_kid != old_kid
    cached_platform.keyring.reload()  # other processes pick it up within the key ring's refresh
    jwks = _jwks(client)
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert verify_offline(old["credential"], jwks, BANK)["sign_no"] == sign_no
    new = as_bank.get(f"/api/v1/cards/{sign_no}/credential").get_json()
    assert new["kid"] == new_kid
    assert jwt.get_unverified_header(new["credential"])["kid"] == new_kid
    assert verify_offline(new["credential"], jwks, BANK)["sign_no"] == sign_no

    _run(app, "keys", "retire", old_kid)
    cached_platform.keyring.reload()
    jwks = _jwks(client)
    assert [k["kid"] for k in jwks["keys"]] == [new_kid]
    with pytest.raises(jwt.InvalidKeyError):
        verify_offline(old["credential"], jwks, BANK)
    with pytest.raises(InvalidToken):
        cached_platform.keyring.verify(old["credential"], typ=TYP, audience=BANK)
    assert verify_offline(new["credential"], jwks, BANK)["sign_no"] == sign_no
