"""The code's shape: no import cycle, layers that import one way, modules of one concern."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("auth", "core", "loaders", "models", "realtime", "resolvers", "schema", "server", "services")
# Highest first: a layer may import any layer below it, never one above.
LAYERS = ("server", "resolvers", "schema", "loaders", "services", "models")
MAX_MODULE_LINES = 420


@pytest.fixture(scope="module")
def graph():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)


def _top(module: str) -> str:
    return module.split(".")[0]


def test_no_module_is_part_of_an_import_cycle(graph):
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(graph.find_shortest_chain(importer=imported, imported=module) + (imported,))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles[:20])


def test_layers_import_downwards_only(graph):
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    wrong = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _top(module), _top(imported)
            if a in rank and b in rank and rank[b] < rank[a]:
                wrong.append(f"{module} -> {imported}")
    assert not wrong, "imports that point up a layer:\n" + "\n".join(wrong)


def test_modules_stay_small():
    big = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {"migrations", ".venv", "var"} or rel.parts[0].startswith("."):
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            big.append(f"{rel}: {lines} lines")
    assert not big, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(sorted(big))
