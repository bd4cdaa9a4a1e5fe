"""The real server process: `app.py` migrates and serves, the admin commands work, and the
public GraphQL-over-HTTP audit suite (npm graphql-http serverAudits) passes against it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import httpx
import pytest

from tests.processes import ROOT, server_env, start_server, stop_servers

AUDIT_DIR = ROOT / "tests" / "http_audit"


@pytest.fixture
def server(tmp_path, redis_url):
    """`app.py` on a fresh SQLite file (it migrates it), or on the PostgreSQL test database."""
    from tests.databases import ON_POSTGRES, TEST_DATABASE_URL

    database_url = TEST_DATABASE_URL if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    env = server_env(database_url, redis_url, tmp_path)
    process, address = start_server(env)
    yield f"http://{address}", env
    stop_servers([process])


def _ensure_audit_packages() -> None:
    if not (AUDIT_DIR / "node_modules" / "graphql-http").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=AUDIT_DIR, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def test_graphql_over_http_audit_suite_passes(server):
    assert shutil.which("node") and shutil.which("npm"), "the audit needs Node.js and npm"
    _ensure_audit_packages()
    base, _env_vars = server
    result = subprocess.run(["node", "audit.mjs", f"{base}/graphql"], cwd=AUDIT_DIR, capture_output=True,
                            text=True, timeout=120)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    not_ok = [line for line in lines if line["status"] != "ok"]
    assert result.returncode == 0 and not_ok == [], result.stdout + result.stderr
    assert len(lines) >= 50  # every server audit ran, not just a few


def test_create_staff_command_then_sign_in(server):
    base, env = server
    result = subprocess.run([sys.executable, "app.py", "create-staff", "--phone", "13700000001",
                             "--password", "first-admin-1", "--permissions", "MANAGE_FINANCE,VIEW_REPORTS"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "MANAGE_FINANCE, VIEW_REPORTS" in result.stdout
    login = httpx.post(f"{base}/graphql", json={"query": 'mutation { login(input: {phone: "13700000001", '
                                                         'password: "first-admin-1"}) { accessToken } }'}).json()
    token = login["data"]["login"]["accessToken"]
    viewer = httpx.post(f"{base}/graphql", json={"query": "{ viewer { permissions user { isStaff } } }"},
                        headers={"authorization": f"Bearer {token}"}).json()
    assert viewer["data"]["viewer"] == {"permissions": ["MANAGE_FINANCE", "VIEW_REPORTS"], "user": {"isStaff": True}}
    bad = subprocess.run([sys.executable, "app.py", "create-staff", "--phone", "13700000002", "--password",
                          "first-admin-1", "--permissions", "MANAGE_EVERYTHING"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Unknown permission" in bad.stderr


def test_demo_data_loads_idempotently(tmp_path, redis_url):
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", redis_url, tmp_path)
    outputs = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", "import asyncio, app; from core.config import Settings; "
                                 "from migrations import upgrade; from services.demo import load_demo; "
                                 "s = Settings.from_env(); upgrade(s.database_url); print(asyncio.run(load_demo(s)))"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert "staff, regions, network, catalog loaded" in outputs[0]
    assert "nothing new loaded" in outputs[1]
    import sqlite3

    with sqlite3.connect(tmp_path / "demo.db") as db:
        counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("distributors", "customer_bindings", "grades", "skus", "users")]
    assert counts == [3, 1, 3, 3, 5]
