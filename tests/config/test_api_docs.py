"""The API docs pages: Swagger UI and ReDoc from this site's static files, no inline script, and the policy each
page is sent with (the browser test shows them drawing the API offline)."""
from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils.csp import build_policy

pytestmark = pytest.mark.django_db
DOCS = ["/api/docs/", "/api/redoc/"]


def _scripts(html: str) -> list[str]:
    """The src of every <script> of `html`; an inline one shows as ''."""
    return re.findall(r"<script(?:\s+src=\"([^\"]*)\")?[^>]*>", html)


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_pages_load_nothing_from_another_host(path: str) -> None:
    html = Client().get(path).content.decode()
    assert "//" not in html.replace("<!DOCTYPE html>", "")  # no absolute URL of any kind: no CDN, no fonts
    scripts = _scripts(html)
    assert scripts and all(src.startswith("/") for src in scripts)  # no inline script either
    assert any(src.startswith("/static/drf_spectacular_sidecar/") for src in scripts)


def test_swagger_ui_gets_its_start_up_script_from_the_same_view() -> None:
    scripts = _scripts(Client().get("/api/docs/").content.decode())
    assert scripts[-1] == "/api/docs/?script="
    response = Client().get(scripts[-1])
    assert response["Content-Type"] == "application/javascript"
    assert '"/api/schema/"' in response.content.decode() and "SwaggerUIBundle(" in response.content.decode()


def test_swagger_ui_is_sent_with_the_sites_policy(settings: Any) -> None:
    settings.SECURE_CSP = settings.EARSHOT_CSP
    assert Client().get("/api/docs/")["Content-Security-Policy"] == build_policy(settings.EARSHOT_CSP)


def test_redoc_is_sent_with_the_sites_policy_plus_its_search_worker(settings: Any) -> None:
    settings.SECURE_CSP = settings.EARSHOT_CSP
    policy = Client().get("/api/redoc/")["Content-Security-Policy"]
    assert policy == build_policy({**settings.EARSHOT_CSP, "worker-src": ["'self'", "blob:"]})


@pytest.mark.parametrize("path", DOCS)
def test_without_a_policy_the_docs_pages_send_none(path: str, settings: Any) -> None:
    settings.SECURE_CSP = {}
    assert "Content-Security-Policy" not in Client().get(path)


def test_the_docs_pages_are_not_operations_of_the_api() -> None:
    paths = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert "/api/battles/" in paths
    assert not {"/api/docs/", "/api/redoc/", "/api/schema/"} & paths.keys()
