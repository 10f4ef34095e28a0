"""Shared helpers of the browser tests: Debian's Chromium driven by Playwright, the ASGI app on a free port.

Playwright's sync API keeps an asyncio loop running in the thread that uses it, and Django then refuses ORM
calls there. So a test sets up and checks the database in its own thread and hands the browser part to
`run_in_browser`, which drives Chromium in a thread of its own; `off_loop` lets that part touch the database.

    from tests.browser import asgi_live_server, needs_postgres, run_in_browser  # noqa: F401 (fixture)
"""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="browser tests serve the app from a thread: they need PostgreSQL (set DATABASE_URL=postgres://...)",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    ws_url: str


@pytest.fixture
def asgi_live_server(transactional_db: None) -> Iterator[LiveServer]:
    """config.asgi (HTTP and websockets) with static files, served by uvicorn on a free port against the test DB."""
    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from config.asgi import application

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            ASGIStaticFilesHandler(application),  # static files from the finders, as runserver serves them
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_for(f"uvicorn to start on port {port}", lambda: server.started or not thread.is_alive())
    if not server.started:
        pytest.fail(f"uvicorn stopped before it started on port {port}")
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def chromium_path() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is missing at {CHROMIUM}: apt-get install -y chromium (make test does it)")
    return str(CHROMIUM)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's build, audio really playing) for the duration of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def run_in_browser[T](scenario: Callable[[Any], T], *, timeout: float = 180.0) -> T:
    """Run `scenario(browser)` in a thread of its own and return what it returns (or raise what it raised)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            with chromium() as browser:
                outcome["value"] = scenario(browser)
        except BaseException as exc:  # handed back to the test's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="playwright", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"the browser scenario did not finish within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def off_loop[T](work: Callable[[], T]) -> T:
    """Run `work` (ORM calls) in a fresh thread with no event loop, closing its database connection afterwards."""
    from django.db import connections

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed back to the caller below
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="orm")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under artifacts/ (git-ignored) for a person to look at.

    A whole page is taken by growing the viewport to the page's height: Playwright's own full-page capture
    drops touch emulation while it runs, so a phone-sized page would be drawn with desktop media queries.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if not full_page:
        page.screenshot(path=str(path))
        return path
    size = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


def collect_page_errors(page: Any) -> list[str]:
    """Uncaught exceptions and console errors of `page`, gathered as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    return errors
