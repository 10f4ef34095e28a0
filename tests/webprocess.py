"""The web app in a process of its own (uvicorn) against the test database, with an environment of the test's
choosing: for tests of what a web process does when Redis or the database misbehaves.

    from tests.webprocess import closed_port, web_process
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    """A local TCP port nobody listens on (bound for a moment by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url_under_test() -> str:
    """postgres://... of the database pytest-django made for this session (committed rows only: transactional)."""
    from django.db import connection

    conf = connection.settings_dict
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


@contextmanager
def web_process(env: dict[str, str], *, startup_timeout: float = 60.0) -> Iterator[str]:
    """uvicorn config.asgi:application on a free port with `env` over this process's environment; its base URL."""
    port = closed_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning", "--lifespan", "off"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            if server.poll() is not None:
                pytest.fail(f"uvicorn exited with {server.returncode}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        wait_for(f"uvicorn to answer {url}/healthz", answers, timeout=startup_timeout, interval=0.2)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
