"""GraphQL over HTTP as the specification and clients expect it."""

from __future__ import annotations

import json

import pytest

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_post_json_returns_json(client):
    response = await client.http.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"] == {"__typename": "Query"}
    assert response.headers["x-request-id"]


async def test_graphql_response_json_media_type(client):
    response = await client.http.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


@pytest.mark.parametrize("query", ["{", "{ notAField }"])
async def test_parse_and_validation_errors(client, query):
    strict = await client.http.post("/graphql", json={"query": query}, headers={"accept": GRAPHQL_RESPONSE})
    assert strict.status_code == 400
    assert "data" not in strict.json() and strict.json()["errors"]
    legacy = await client.http.post("/graphql", json={"query": query}, headers={"accept": "application/json"})
    assert legacy.status_code == 200
    assert "data" not in legacy.json() and legacy.json()["errors"]


async def test_variable_coercion_error(client):
    body = {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}}
    strict = await client.http.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
    assert strict.status_code == 400 and "data" not in strict.json()
    legacy = await client.http.post("/graphql", json=body)
    assert legacy.status_code == 200 and legacy.json()["errors"]


async def test_get_runs_queries_and_refuses_mutations(client):
    response = await client.http.get("/graphql", params={"query": "query($x: ID!) { node(id: $x) { id } }",
                                                         "variables": json.dumps({"x": "abc"})})
    assert response.status_code == 200 and response.json() == {
        "data": {"node": None}, "extensions": {"cost": {"requested": 2, "maximum": 10000}}}
    mutation = await client.http.get("/graphql", params={"query": "mutation { logout { endedSessions } }"})
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"
    assert mutation.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_get_json_405(client, method):
    response = await client.http.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_wrong_content_type_is_415(client):
    response = await client.http.post("/graphql", content="{ __typename }", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_unacceptable_accept_is_406(client):
    response = await client.http.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/csv"})
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


async def test_body_too_large_is_413(client, settings):
    big = "{ __typename }" + " " * settings.max_body_bytes
    response = await client.http.post("/graphql", json={"query": big})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_malformed_json_and_bad_parameters_are_400(client):
    response = await client.http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "INVALID_JSON"
    for body in ({"query": 1}, {"query": "{ __typename }", "variables": "[]"}, {"query": "{ __typename }", "operationName": 5},
                 {}):
        response = await client.http.post("/graphql", json=body)
        assert response.status_code == 400, body


async def test_batching_is_off(client):
    response = await client.http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}])
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BATCHING_NOT_SUPPORTED"


async def test_browser_gets_the_explorer(client):
    response = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_unexpected_errors_are_masked_with_the_request_id(client, monkeypatch, caplog):
    from services import account
    from tests.factories import register

    payload = await register(client)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("database exploded: secret detail")

    monkeypatch.setattr(account, "users_by_ids", broken)
    response = await client.post("{ viewer { user { id } } }", token=payload["accessToken"],
                                 headers={"x-request-id": "req-123"})
    error = response.json()["errors"][0]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-123"}
    assert "secret detail" not in response.text
    logged = [r for r in caplog.records if r.name == "fenxiao.graphql" and r.levelname == "ERROR"]
    assert logged and logged[0].fields["request_id"] == "req-123"


async def test_one_log_line_per_operation_with_request_id(client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="fenxiao.graphql")
    await client.post("query Hello { __typename }", headers={"x-request-id": "abc"})
    lines = [r for r in caplog.records if r.name == "fenxiao.graphql" and r.getMessage() == "graphql operation"]
    assert len(lines) == 1
    assert lines[0].fields["request_id"] == "abc"
    assert lines[0].fields["operation_name"] == "Hello"
    assert lines[0].fields["operation_type"] == "query"


async def test_healthz_and_metrics(client):
    health = await client.http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == "ok" and health.json()["broker"] == "ok"
    await client.post("query Ping { __typename }")
    metrics = (await client.http.get("/metrics")).text
    assert 'graphql_operations_total{operation_name="Ping",operation_type="query",transport="http"} 1.0' in metrics
    assert "graphql_operation_duration_seconds_bucket" in metrics
    assert "websocket_connections_open" in metrics
    assert "live_subscribers 0.0" in metrics and "outbox_events_published" in metrics
    assert 'http_requests_total{method="POST",path="/graphql",status="200"}' in metrics


async def test_healthz_reports_an_unreachable_broker(database_url):
    from app import build_app
    from core.config import Settings
    from tests.support import GraphQLClient

    settings = Settings(database_url=database_url, redis_url="redis://127.0.0.1:1/0",
                        secret_key="k" * 40, field_encryption_key="k" * 40)
    app = build_app(settings)
    async with GraphQLClient.open(app) as client:
        response = await client.http.get("/healthz")
    await app.state.app_state.close()
    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable" and response.json()["database"] == "ok"
