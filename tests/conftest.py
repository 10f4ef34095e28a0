"""Shared fixtures: media in a temporary folder, no recompute marks or memos carried over, a staff client, a dead
cache, a fresh connection pool per test.

Helpers a test imports (pytest does not let a test import this file): tests.waiting.wait_for, the one way to wait
for what happens beside a test; tests.threads.run_threads for race tests; tests.factories for rows and real audio;
tests.realstack (Celery worker, channel layer, votes) and tests.browser (live server, Chromium) as plugins.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test writes media to a fresh folder (pure-module tests may run without pytest-django)."""
    if not request.config.pluginmanager.hasplugin("django"):
        return
    request.getfixturevalue("settings").MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture
def media_root(settings: pytest.FixtureRequest) -> Path:
    return Path(settings.MEDIA_ROOT)  # type: ignore[attr-defined]


@pytest.fixture
def staff_client(db: None) -> Any:
    """A test client signed in as staff without superuser rights: the researcher who reads rankings and reports.
    (pytest-django's admin_client is the superuser.)"""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.create_user("researcher", is_staff=True))
    return client


@pytest.fixture
def dead_cache(settings: Any) -> str:
    """The shared cache on a port nobody listens on (Django drops its cache clients when CACHES changes)."""
    from tests.webprocess import closed_port

    url = f"redis://127.0.0.1:{closed_port()}/4"
    settings.CACHES = {"default": {**settings.CACHES["default"], "BACKEND":
                                   "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    return url


@pytest.fixture(autouse=True)
def _no_recompute_marks(request: pytest.FixtureRequest) -> None:
    """No recompute counts as already queued by an earlier test (the marks live in the shared cache, Redis), and no
    process memo of ratings is carried over."""
    if not request.config.pluginmanager.hasplugin("django"):
        return
    from django.core.cache import cache

    from core.memo import process_memo_clear
    from reward.jobs import AGREEMENT_QUEUED_KEY
    from scoring.scopes import scopes_all
    from scoring.services import recompute_mark

    cache.delete_many([AGREEMENT_QUEUED_KEY, *(recompute_mark(scope.name) for scope in scopes_all(families=False))])
    # Campaign scopes exist only in a test's database: their marks go by pattern, where the cache is Redis.
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=f"*{recompute_mark('campaign:')}*"):
            client.delete(key)
    process_memo_clear()  # nor what a web process remembers (sampling catalogue, the reveal's ratings)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test starts with a fresh connection pool (on by default with PostgreSQL), once its fixtures (the test
    database's rollback or flush included) are torn down. A pooled connection whose thread ends without closing it
    is never given back, so one such thread would shrink the pool of every later test until requests wait out the
    pool's timeout."""
    yield
    if not item.config.pluginmanager.hasplugin("django"):
        return
    from django.db import connections

    for alias in connections:
        if connections.settings[alias].get("OPTIONS", {}).get("pool"):
            connections[alias].close()
            connections[alias].close_pool()
