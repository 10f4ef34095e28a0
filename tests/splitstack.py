"""The production shape of the web tier for tests: nginx in front (docker/nginx.conf.template), gunicorn for HTTP
(config/gunicorn.conf.py) and uvicorn for websockets (config.asgi), each a real process, against the test database,
Redis and this test's MEDIA_ROOT; one origin for the browser.

A web process reads its settings from the environment at start, so a test passes what it changes as variables
(`split_stack(EARSHOT_MIN_LISTEN_SECONDS="1")`) and restarts the HTTP side to change them (`stack.http_restart`),
as an operator would.

    from tests.splitstack import split_stack  # noqa: F401 (fixture)
"""
from __future__ import annotations

import os
import shutil
import signal
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.waiting import wait_for
from tests.webprocess import ROOT, closed_port, database_url_under_test

TEMPLATE = ROOT / "docker" / "nginx.conf.template"
GUNICORN_CONFIG = ROOT / "config" / "gunicorn.conf.py"
ACCEL_PREFIX = "/protected-media/"
# nginx's own settings for a private, unprivileged instance; the Earshot part is the template, as in compose.
MAIN_CONF = """{user}daemon off;
worker_processes 1;
pid {run}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {run}/earshot.conf;
}}
"""


def nginx_path() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("nginx is missing: apt-get install -y nginx (make test does it, scripts/system-deps.sh)")
    return found


def nginx_conf_render(*, listen: str, http_upstream: str, ws_upstream: str, media_root: Path) -> str:
    """docker/nginx.conf.template with its variables filled in, as envsubst does in the nginx image."""
    return string.Template(TEMPLATE.read_text()).safe_substitute(
        EARSHOT_LISTEN=listen, EARSHOT_HTTP_UPSTREAM=http_upstream, EARSHOT_WS_UPSTREAM=ws_upstream,
        EARSHOT_MEDIA_ROOT=str(media_root).rstrip("/"),
    )


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _answers(url: str, process: subprocess.Popen[bytes], name: str) -> Callable[[], bool]:
    def check() -> bool:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _children(pid: int) -> set[int]:
    """The live child processes of `pid` (nginx's workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@dataclass
class SplitStack:
    """nginx on `url` / `ws_url`, routing /ws/ to uvicorn and the rest to gunicorn."""

    env: dict[str, str]
    run: Path
    proxy_port: int = field(default_factory=closed_port)
    http_port: int = field(default_factory=closed_port)
    ws_port: int = field(default_factory=closed_port)
    http_workers: int = 2
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.proxy_port}"

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603 - our own
        self.processes[name] = process
        return process

    def http_start(self, **env: str) -> None:
        """gunicorn on http_port with the stack's environment and `env` over it."""
        self.env.update(env)
        process = self._spawn("gunicorn", [
            sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG),
            "--bind", f"127.0.0.1:{self.http_port}", "--workers", str(self.http_workers), "--threads", "4",
            "--graceful-timeout", "5", "--log-level", "warning",
        ], self.env)
        wait_for("gunicorn to answer", _answers(f"http://127.0.0.1:{self.http_port}/healthz", process, "gunicorn"),
                 timeout=60, interval=0.2)

    def http_restart(self, **env: str) -> None:
        """Replace gunicorn by one with `env` changed (a setting changed in production) without dropping a request:
        the new one starts on a port of its own, nginx reloads onto it, and the old one stops once no nginx worker
        of the old configuration is left."""
        old = self.processes.pop("gunicorn")
        self.http_port = closed_port()
        self.http_start(**env)
        nginx = self.processes["nginx"]
        old_workers = _children(nginx.pid)
        self._nginx_conf_write()
        nginx.send_signal(signal.SIGHUP)
        wait_for("nginx to reload onto the new gunicorn", lambda: not (old_workers & _children(nginx.pid)),
                 timeout=30, interval=0.1)
        _stop(old)

    def _nginx_conf_write(self) -> None:
        (self.run / "earshot.conf").write_text(nginx_conf_render(
            listen=f"127.0.0.1:{self.proxy_port}", http_upstream=f"127.0.0.1:{self.http_port}",
            ws_upstream=f"127.0.0.1:{self.ws_port}", media_root=Path(self.env["MEDIA_ROOT"]),
        ))

    def start(self) -> None:
        uvicorn = self._spawn("uvicorn", [
            sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.ws_port), "--no-access-log", "--log-level", "warning", "--lifespan", "off",
        ], self.env)
        self.http_start()
        wait_for("uvicorn to answer", _answers(f"http://127.0.0.1:{self.ws_port}/healthz", uvicorn, "uvicorn"),
                 timeout=60, interval=0.2)
        self._nginx_conf_write()
        # As root, nginx's workers would drop to "nobody" and could not read the test's private MEDIA_ROOT.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.run / "nginx.conf").write_text(MAIN_CONF.format(user=user, run=self.run))
        nginx = self._spawn("nginx", [nginx_path(), "-e", "stderr", "-p", str(self.run), "-c",
                                      str(self.run / "nginx.conf")], self.env)
        wait_for("nginx to answer", _answers(f"{self.url}/healthz", nginx, "nginx"), timeout=30, interval=0.1)

    def stop(self) -> None:
        for name in ("nginx", "gunicorn", "uvicorn"):
            _stop(self.processes.pop(name, None))


@pytest.fixture(scope="session")
def collected_static() -> Iterator[Path]:
    """The static files collected once per session, for WhiteNoise in the web processes (DEBUG off: no finders)."""
    folder = Path(tempfile.mkdtemp(prefix="earshot-static-"))
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True,
        env={**os.environ, "STATIC_ROOT": str(folder), "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def split_stack(
    transactional_db: None, settings: object, collected_static: Path, tmp_path: Path
) -> Iterator[Callable[..., SplitStack]]:
    """Start the split stack with `env` over the test's own (database, Redis, MEDIA_ROOT, Celery queue); stopped
    after the test, before its database is flushed."""
    from config.celery import app

    stacks: list[SplitStack] = []

    def start(**env: str) -> SplitStack:
        run = tmp_path / f"nginx-{len(stacks)}"
        run.mkdir()
        stack = SplitStack(run=run, env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url_under_test(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # type: ignore[attr-defined]
            "STATIC_ROOT": str(collected_static),
            "DEBUG": "0",
            "EARSHOT_CSP": "1",
            "EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX,
            "CELERY_TASK_DEFAULT_QUEUE": app.conf.task_default_queue or "celery",
            "DB_POOL_MAX": "6",
            "LOG_LEVEL": "WARNING",
            **env,
        })
        stacks.append(stack)
        stack.start()
        return stack

    try:
        yield start
    finally:
        for stack in stacks:
            stack.stop()
