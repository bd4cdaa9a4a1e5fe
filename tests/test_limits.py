"""Limits against abusive queries: depth, aliases, tokens, cost, mutations, page size,
introspection, suggestions, persisted queries."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from tests.factories import register, staff
from tests.support import GraphQLClient

AUDIT_DEEP = "{ auditEntries { edges { node { actor { id } } } } }"  # depth 5
AUDIT_DEEP_FRAGMENTS = """
{ ...Q }
fragment Q on Query { auditEntries { ...E } }
fragment E on AuditEntryConnection { edges { node { ... on AuditEntry { actor { id } } } } }
"""


async def test_depth_limit_sees_through_fragments(make_client):
    client = await make_client(max_query_depth=3)
    for document in (AUDIT_DEEP, AUDIT_DEEP_FRAGMENTS):
        response = await client.post(document, headers={"accept": "application/graphql-response+json"})
        assert response.status_code == 400
        assert "exceeds maximum operation depth of 3" in response.json()["errors"][0]["message"]
    shallow = await client.post("{ viewer { user { id } } }")
    assert "errors" not in shallow.json()


async def test_alias_limit_counts_aliases_inside_fragments(client, settings):
    many = " ".join(f"a{i}: __typename" for i in range(settings.max_aliases + 1))
    errors = await client.errors("{ " + many + " }")
    assert f"{settings.max_aliases + 1} aliases found. Allowed: {settings.max_aliases}" == errors[0]["message"]
    half = settings.max_aliases // 2 + 1
    spread = " ".join(f"b{i}: __typename" for i in range(half))
    direct = " ".join(f"c{i}: __typename" for i in range(half))
    errors = await client.errors("{ " + direct + " ...F } fragment F on Query { " + spread + " }")
    assert "aliases found" in errors[0]["message"]
    allowed = " ".join(f"a{i}: __typename" for i in range(settings.max_aliases))
    assert "errors" not in (await client.post("{ " + allowed + " }")).json()


async def test_token_limit(client, settings):
    document = "{ " + "__typename " * settings.max_tokens + "}"
    errors = await client.errors(document)
    assert errors[0]["message"] == f"Syntax Error: Document contains more than {settings.max_tokens} tokens. Parsing aborted."


async def test_cost_multiplies_lists_by_first_and_is_echoed(client, app_state):
    admin = await staff(client, app_state, {"MANAGE_STAFF"})
    query = "query($n: Int) { auditEntries(first: $n) { edges { node { id action } } } }"
    body = (await client.post(query, {"n": 10}, token=admin["accessToken"])).json()
    # auditEntries 1 + 10 x (edges 1 + node 1 + id 1 + action 1)
    assert body["extensions"]["cost"] == {"requested": 41, "maximum": 10000}
    body = (await client.post(query, {"n": 100}, token=admin["accessToken"])).json()
    assert body["extensions"]["cost"]["requested"] == 401


async def test_cost_limit_refuses_with_fragments_and_aliases(make_client, app_state):
    client = await make_client(max_query_cost=200)
    admin = await staff(client, app_state, {"MANAGE_STAFF"})
    document = """
    query { a: auditEntries(first: 30) { ...Page } b: auditEntries(first: 30) { ...Page } }
    fragment Page on AuditEntryConnection { edges { node { id action reason } } }
    """
    response = await client.post(document, token=admin["accessToken"],
                                 headers={"accept": "application/graphql-response+json"})
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 302, "maxCost": 200}
    assert "more than the limit of 200" in body["errors"][0]["message"]


async def test_page_size_is_capped(client, app_state):
    admin = await staff(client, app_state, {"MANAGE_STAFF"})
    errors = await client.errors("{ auditEntries(first: 101) { edges { cursor } } }", token=admin["accessToken"])
    assert errors[0]["extensions"]["code"] == "INVALID"
    assert errors[0]["message"] == "first must be between 0 and 100."


async def test_connections_page_with_keyset_cursors(client, app_state):
    admin = await staff(client, app_state, {"MANAGE_STAFF"})
    for _ in range(4):
        await staff(client, app_state, {"VIEW_REPORTS"})  # each creation is audited
    query = "query($after: String) { auditEntries(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    seen, after = [], None
    while True:
        page = (await client.execute(query, {"after": after}, token=admin["accessToken"]))["auditEntries"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 5 and len(set(seen)) == 5
    errors = await client.errors(query, {"after": "bogus!"}, token=admin["accessToken"])
    assert errors[0]["extensions"]["code"] == "INVALID"


async def test_audit_entries_need_permission(client, app_state):
    customer = await register(client)
    errors = await client.errors("{ auditEntries { edges { cursor } } }", token=customer["accessToken"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await client.errors("{ auditEntries { edges { cursor } } }")
    assert errors[0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_mutations_per_request_counted_through_aliases_and_fragments(client, settings):
    limit = settings.max_mutations_per_request
    aliased = " ".join(f"m{i}: logout {{ endedSessions }}" for i in range(limit + 1))
    errors = await client.errors("mutation { " + aliased + " }")
    assert errors[0]["extensions"]["code"] == "TOO_MANY_MUTATIONS"
    direct = " ".join(f"d{i}: logout {{ endedSessions }}" for i in range(limit - 1))
    spread = "f1: logout { endedSessions } f2: logout { endedSessions }"
    errors = await client.errors("mutation { " + direct + " ...M } fragment M on Mutation { " + spread + " }")
    assert errors[0]["message"] == f"{limit + 1} mutations in one request; at most {limit} are allowed."
    within = " ".join(f"m{i}: logout {{ endedSessions }}" for i in range(limit))
    assert "errors" not in (await client.post("mutation { " + within + " }")).json()


async def test_introspection_and_suggestions_can_be_switched_off(make_client):
    open_client = await make_client()
    assert "errors" not in (await open_client.post("{ __schema { queryType { name } } }")).json()
    assert "Did you mean" in (await open_client.errors("{ viewr { client } }"))[0]["message"]
    closed = await make_client(introspection=False, field_suggestions=False)
    errors = await closed.errors("{ __schema { queryType { name } } }")
    assert "introspection" in errors[0]["message"].lower()
    message = (await closed.errors("{ viewr { client } }"))[0]["message"]
    assert "Did you mean" not in message and "viewr" in message


async def test_automatic_persisted_queries(client):
    query = "query Hello { __typename }"
    sha = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    miss = await client.http.post("/graphql", json={"extensions": extensions})
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await client.http.post("/graphql", json={"query": query, "extensions": extensions})
    assert registered.json()["data"] == {"__typename": "Query"}
    hit = await client.http.get("/graphql", params={"extensions": json.dumps(extensions)})
    assert hit.json()["data"] == {"__typename": "Query"}
    wrong = await client.http.post("/graphql", json={"query": "{ viewer { client } }", "extensions": extensions})
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_allowlist_runs_only_known_documents(make_client, tmp_path):
    known = "query Known { viewer { client } }"
    allowlist = tmp_path / "allowlist.json"
    allowlist.write_text(json.dumps([known]))
    client = await make_client(persisted_query_allowlist=str(allowlist))
    sha = hashlib.sha256(known.encode()).hexdigest()
    by_hash = await client.http.post("/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}})
    assert by_hash.json()["data"] == {"viewer": {"client": "H5"}}
    assert (await client.post(known)).json()["data"] == {"viewer": {"client": "H5"}}
    unknown = await client.post("{ __typename }")
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
