"""Documents as real pages and attackers send them: every root field at once, aliases and
fragments, invalid scalars inline and as variables, hostile text, and fragment bombs."""

from __future__ import annotations

import json
import time

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)

from auth.permissions import Permission
from core.ids import encode_global_id
from tests.factories import direct_program, join, register, staff

LITERALS = {"ID": f'"{encode_global_id("Product", 1)}"', "String": '"x"', "Int": "1", "Boolean": "false",
            "Money": '"1.00"', "BasisPoints": "100", "DateTime": '"2026-01-01T00:00:00Z"', "Float": "1.0",
            "JSON": "{}", "Date": '"2026-01-01"'}

ARGUMENT_LITERALS = {"regionCode": '"440106"', "month": '"2026-01"', "to": '"2026-02-01T00:00:00Z"'}


def _id_literal(name: str, type_) -> str | None:
    """skuId: ID! -> the global id of Sku 1."""
    if get_named_type(type_).name != "ID" or not name.endswith("Id"):
        return None
    return f'"{encode_global_id(name[0].upper() + name[1:-2], 1)}"'


def _literal(type_) -> str:
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"[{_literal(type_.of_type)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = [f"{name}: {_literal(field.type)}" for name, field in type_.fields.items()
                    if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined]
        return "{" + ", ".join(required) + "}"
    if isinstance(type_, GraphQLScalarType):
        return LITERALS.get(type_.name, '"x"')
    raise AssertionError(f"no literal for {type_}")


def _arguments(field) -> str:
    given = []
    for name, arg in field.args.items():
        if name == "first":
            given.append("first: 2")
        elif isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined:
            given.append(f"{name}: {ARGUMENT_LITERALS.get(name) or _id_literal(name, arg.type) or _literal(arg.type)}")
    return f"({', '.join(given)})" if given else ""


def _selection(type_, depth: int) -> str:
    named = get_named_type(type_)
    if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
        return ""
    if isinstance(named, GraphQLUnionType):
        return "{ __typename }"
    parts = ["__typename"]
    for name, field in named.fields.items():
        inner = get_named_type(field.type)
        needs_args = any(isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined for a in field.args.values())
        if needs_args:
            continue
        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            parts.append(name)
        elif depth > 0 and isinstance(inner, (GraphQLObjectType, GraphQLInterfaceType)):
            parts.append(f"{name}{_arguments(field)} {_selection(field.type, depth - 1)}")
    return "{ " + " ".join(parts) + " }"


def root_selections(schema) -> dict[str, str]:
    query = schema.query_type
    return {name: f"{name}{_arguments(field)} {_selection(field.type, 1)}".strip()
            for name, field in query.fields.items()}


@pytest.fixture
def graphql_schema(app):
    return app.state.schema._schema


async def _viewers(client, app_state) -> dict[str, str | None]:
    viewers: dict[str, str | None] = {"anonymous": None}
    viewers["customer"] = (await register(client))["accessToken"]
    await direct_program(client, app_state)
    viewers["distributor"] = (await join(client))["token"]
    for permission in Permission:
        viewers[permission.value] = (await staff(client, app_state, {permission.value}))["accessToken"]
    viewers["all permissions"] = (await staff(client, app_state))["accessToken"]
    return viewers


def _no_internal_errors(body: dict) -> None:
    internal = [e for e in body.get("errors", []) if (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"]
    assert not internal, internal


async def test_every_root_field_in_one_document_for_every_viewer(client, app_state, graphql_schema):
    selections = root_selections(graphql_schema)
    assert len(selections) > 30  # the whole Query type, not a sample
    plain = "{ " + " ".join(selections.values()) + " }"
    fragments = "query Page { ...Root } fragment Root on Query { " + " ".join(selections.values()) + " }"
    names = list(selections)
    for kind, token in (await _viewers(client, app_state)).items():
        for document in (plain, fragments):
            response = await client.post(document, token=token)
            body = response.json()
            assert response.status_code == 200, (kind, body)
            _no_internal_errors(body)
            # A refused non-null root field nulls `data` for everyone (GraphQL's null bubbling);
            # every refusal must still say why, with a code a client can switch on.
            assert all((e.get("extensions") or {}).get("code") for e in body.get("errors", [])), body["errors"]
            if body["data"] is not None:
                assert set(body["data"]) == set(names)
        # The same field twice under aliases, ten fields at a time (the alias limit is 20).
        for start in range(0, len(names), 10):
            chunk = names[start:start + 10]
            aliased = " ".join(f"a_{n}: {selections[n]} b_{n}: {selections[n]}" for n in chunk)
            body = (await client.post("{ " + aliased + " }", token=token)).json()
            _no_internal_errors(body)
            for n in chunk:
                if body["data"] is not None:
                    assert body["data"][f"a_{n}"] == body["data"][f"b_{n}"], (kind, n)


async def test_a_shop_home_page_and_a_staff_settings_page(client, app_state):
    home = await client.post("{ categories { id } grades { id } products(first: 10) { nodes { id } } }")
    assert home.json()["data"] == {"categories": [], "grades": [], "products": {"nodes": []}}
    finance = (await staff(client, app_state))["accessToken"]
    data = await client.execute("{ distributorProgram { joinMode } commissionSettings { __typename } }", token=finance)
    assert data["distributorProgram"]["joinMode"] and data["commissionSettings"] == {"__typename": "CommissionSettings"}


BAD_SCALARS = [
    ("Money", '"1e3"'), ("Money", '"99999999999999999999.99"'), ("Money", "1"), ("Money", '"100000000.00"'),
    ("Money", '"１２.00"'), ("BasisPoints", "10001"), ("BasisPoints", '"100"'), ("DateTime", '"2026-13-01T00:00:00Z"'),
    ("DateTime", '"2026-01-01T00:00:00"'), ("DateTime", '"99999-01-01T00:00:00Z"'),
]


@pytest.mark.parametrize(("scalar", "literal"), BAD_SCALARS)
async def test_invalid_scalars_are_validation_errors_inline_and_as_variables(client, scalar, literal):
    document = {"Money": 'mutation { withdrawalRequest(input: {amount: %s}) { userErrors { code } } }',
                "BasisPoints": 'mutation { gradeCreate(input: {name: "g", level: 9, tier1Rate: %s}) '
                               '{ userErrors { code } } }',
                "DateTime": '{ withdrawalsCsv(from: %s, to: "2026-01-02T00:00:00Z") }'}[scalar]
    inline = await client.post(document % literal)
    errors = inline.json()["errors"]
    assert errors[0]["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"), errors
    assert "Internal" not in errors[0]["message"]
    variable_document = {"Money": "mutation($v: Money!) { withdrawalRequest(input: {amount: $v}) { userErrors { code } } }",
                         "BasisPoints": 'mutation($v: BasisPoints!) { gradeCreate(input: {name: "g", level: 9, '
                                        'tier1Rate: $v}) { userErrors { code } } }',
                         "DateTime": 'query($v: DateTime!) { withdrawalsCsv(from: $v, to: "2026-01-02T00:00:00Z") }'}
    as_variable = await client.post(variable_document[scalar], {"v": json.loads(literal)})
    errors = as_variable.json()["errors"]
    assert errors[0]["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"), errors


async def test_a_global_id_past_bigint_names_nothing(client):
    huge = encode_global_id("Product", 2**63)
    assert (await client.execute(f'{{ node(id: "{huge}") {{ id }} }}')) == {"node": None}
    assert (await client.execute("query($id: ID!) { node(id: $id) { id } }", {"id": huge})) == {"node": None}


async def _post_raw(client, document: str, variables: dict | None = None) -> dict:
    """Posts JSON as a client library writes it: non-ASCII escaped, so a lone surrogate travels
    as the escape sequence \\ud800 that a browser's JSON.stringify also sends."""
    body = json.dumps({"query": document, "variables": variables or {}}, ensure_ascii=True)
    response = await client.http.post("/graphql", content=body, headers={"content-type": "application/json"})
    return response.json()


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b", "x" * 10_001])
async def test_hostile_text_is_refused_before_it_reaches_a_resolver(client, text):
    body = await _post_raw(client, "query($s: String) { products(first: 1, search: $s) { nodes { id } } }", {"s": text})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    literal = json.dumps(text, ensure_ascii=True)  # a GraphQL string literal accepts JSON's escapes
    body = await _post_raw(client, "{ products(first: 1, search: %s) { nodes { id } } }" % literal)
    # The parser itself refuses an unpaired surrogate escape; the rule refuses the rest.
    assert body["errors"][0]["extensions"]["code"] in ("BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"), body
    assert "data" not in body


async def test_a_fragment_bomb_is_refused_in_well_under_a_second(client):
    levels = 10
    fragments = " ".join(f"fragment F{i} on Query {{ " + " ".join([f"...F{i + 1}"] * 10) + " }" for i in range(levels))
    fragments += f" fragment F{levels} on Query {{ categories {{ id }} }}"
    document = "{ ...F0 } " + fragments
    assert len(document) < 1000
    started = time.perf_counter()
    response = await client.post(document)
    elapsed = time.perf_counter() - started
    assert response.json()["errors"][0]["extensions"]["code"] in ("QUERY_TOO_COSTLY", "TOO_MANY_ALIASES")
    assert elapsed < 0.5, elapsed
    deep = "{ ...D0 } " + " ".join(f"fragment D{i} on Query {{ ...D{i + 1} ...D{i + 1} }}" for i in range(40))
    deep += " fragment D40 on Query { categories { id } }"
    started = time.perf_counter()
    body = (await client.post(deep)).json()
    assert time.perf_counter() - started < 0.5
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_no_suggestions_for_arguments_or_enum_values_when_switched_off(make_client):
    closed = await make_client(field_suggestions=False)
    for document in ("{ products(frist: 1) { nodes { id } } }",
                     "{ myWithdrawals(status: PAYED) { nodes { id } } }",
                     "{ viewr { client } }"):
        errors = await closed.errors(document)
        assert all("Did you mean" not in e["message"] for e in errors), errors
    open_client = await make_client(field_suggestions=True)
    assert "Did you mean" in (await open_client.errors("{ products(frist: 1) { nodes { id } } }"))[0]["message"]
