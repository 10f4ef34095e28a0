"""The pages in Debian's Chromium under production's Content-Security-Policy: nothing they load is blocked."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.arena.arena_support import catalogue_import
from tests.browser import (
    DESKTOP,
    LiveServer,
    asgi_live_server,  # noqa: F401 (fixture)
    collect_page_errors,
    needs_postgres,
    off_loop,
    run_in_browser,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_postgres]
PAGES = ["/", "/leaderboard/", "/agreement/", "/admin/login/", "/admin/", "/admin/arena/prompt/add/"]


def test_every_page_loads_under_the_production_policy(  # type: ignore[no-untyped-def]
    asgi_live_server: LiveServer, tmp_path: Path, settings: Any  # noqa: F811
) -> None:
    settings.SECURE_CSP = settings.EARSHOT_CSP
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    off_loop(lambda: catalogue_import(tmp_path, systems=2, seconds=2.0))
    off_loop(lambda: User.objects.create_superuser("ada", "ada@example.org", "unused-password-1"))

    def scenario(browser: Any) -> dict[str, list[str]]:
        page = browser.new_context(**DESKTOP).new_page()
        errors = collect_page_errors(page)
        seen: dict[str, list[str]] = {}
        for path in PAGES:
            response = page.goto(f"{asgi_live_server.url}{path}")
            assert "nonce-" in response.headers["content-security-policy"]
            if path == "/admin/login/":
                page.fill("#id_username", "ada")
                page.fill("#id_password", "unused-password-1")
                page.click("input[type=submit]")
                page.wait_for_url("**/admin/")
            page.wait_for_load_state("networkidle")
            if path == "/":
                page.wait_for_selector("#prompt-text:not(:empty)")
            # Only what the policy blocked (the admin's pages have no favicon: a 404 is not this test's business).
            seen[path] = [error for error in errors if "Content Security Policy" in error or "pageerror" in error]
            errors.clear()
        return seen

    seen = run_in_browser(scenario)
    assert seen == {path: [] for path in PAGES}
