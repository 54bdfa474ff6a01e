"""The app's cross-cutting behaviour: error envelope, docs, keys, headers."""

from __future__ import annotations

from typing import Any


def test_health_answers_without_authentication(client: Any) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["X-Request-Id"]


def test_unknown_path_is_a_json_404_with_a_code(client: Any) -> None:
    response = client.get("/api/v1/nothing-here", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "NOT_FOUND"
    assert body["message"] == body["message_en"]
    assert body["message_zh"]
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_wrong_method_says_which_are_allowed(client: Any) -> None:
    response = client.delete("/api/v1/health")
    assert response.status_code == 405
    assert response.get_json()["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


def test_chinese_is_the_default_language(client: Any) -> None:
    body = client.get("/nope").get_json()
    assert body["message"] == body["message_zh"]


def test_request_id_is_propagated_when_sane(client: Any) -> None:
    assert client.get("/api/v1/health", headers={"X-Request-Id": "abc12345-trace"}) \
        .headers["X-Request-Id"] == "abc12345-trace"
    assert client.get("/api/v1/health", headers={"X-Request-Id": "x"}) \
        .headers["X-Request-Id"] != "x"


def test_openapi_spec_and_swagger_ui_are_served_offline(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["info"]["title"] == "ecard platform API"
    assert "channelJWT" in spec["components"]["securitySchemes"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/docs/static/swagger-ui-bundle.js" in page.data
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200


def test_jwks_publishes_the_active_key(client: Any) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.get_json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-256" and keys[0]["alg"] == "ES256"
    assert "d" not in keys[0]  # never the private part
    assert "max-age" in response.headers["Cache-Control"]
