"""schema.graphql at the repository root is the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from server.schema import export_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_graphql_is_current():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == export_sdl(), (
        "schema.graphql is stale: run `uv run app.py export-schema`")


def test_schema_follows_the_conventions():
    sdl = export_sdl()
    assert "scalar DateTime" in sdl
    assert "interface Node" in sdl
    assert "node(id: ID!): Node" in sdl
    for line in sdl.splitlines():
        # Every mutation returns a payload carrying userErrors.
        if line.startswith("  ") and "Payload!" in line and "(" in line:
            payload = line.split(":")[-1].strip().rstrip("!")
            assert f"type {payload} {{" in sdl
            block = sdl.split(f"type {payload} {{", 1)[1].split("}", 1)[0]
            assert "userErrors: [UserError!]!" in block, payload
