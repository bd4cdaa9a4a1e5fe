"""Starting real `app.py` processes on loopback ports for the tests that need them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, redis_url: str | None, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=database_url, VAR_DIR=str(var_dir), LOG_LEVEL="WARNING")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def start_server(env: dict[str, str], *extra: str, capture: bool = True) -> tuple[subprocess.Popen, str]:
    """Start `app.py` (it migrates first, unless told --no-migrate) and wait until /healthz
    answers; returns the process and its "127.0.0.1:PORT". Benchmarks pass capture=False so a
    long run's output never fills the pipe."""
    port = free_port()
    output = subprocess.PIPE if capture else None
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *extra], cwd=ROOT, env=env,
                               stdout=output, stderr=subprocess.STDOUT if capture else None)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded CI machine can take a while to import and migrate
    while True:
        try:
            if httpx.get(f"http://{address}/healthz", timeout=1).status_code == 200:
                return process, address
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"server on {address} did not start:\n{output}")
        time.sleep(0.2)


def stop_servers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)
