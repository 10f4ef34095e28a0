"""The API docs (Swagger UI at /api/docs/, ReDoc at /api/redoc/) in Debian's Chromium with no way off the machine.

Production's Content-Security-Policy is on and every request to another host is aborted and recorded; each page
must still draw every operation of /api/schema/ from drf-spectacular-sidecar's static files.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.browser import (
    DESKTOP,
    LiveServer,
    asgi_live_server,  # noqa: F401 (fixture)
    collect_page_errors,
    needs_postgres,
    run_in_browser,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_postgres]

# What the policy refused, as the page's own event reports it (besides the console line Chromium writes).
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.effectiveDirective} refused ${event.blockedURI}`);
});
"""
SWAGGER_OPERATIONS = """
() => Array.from(document.querySelectorAll("#swagger-ui .opblock")).map((block) => [
  block.querySelector(".opblock-summary-method").textContent.toLowerCase(),
  block.querySelector(".opblock-summary-path").dataset.path,
])
"""
REDOC_MENU_OPERATION = ".menu-content ul[role=menu] li[data-item-id*='/operation/']"
REDOC_OPERATIONS = f"""
() => Array.from(document.querySelectorAll("{REDOC_MENU_OPERATION}"))
  .map((item) => item.dataset.itemId.split("/operation/")[1])
"""


def _schema_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) for every operation /api/schema/ describes."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        operation["operationId"]: (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_both_api_docs_render_the_whole_api_offline_under_the_production_policy(  # type: ignore[no-untyped-def]
    asgi_live_server: LiveServer, settings: Any  # noqa: F811
) -> None:
    settings.SECURE_CSP = settings.EARSHOT_CSP
    operations = _schema_operations()
    assert {"battle_create", "leaderboards_list"} <= operations.keys()
    local = urlsplit(asgi_live_server.url).netloc

    def scenario(browser: Any) -> dict[str, Any]:
        context = browser.new_context(**DESKTOP)
        left_the_machine: list[str] = []

        def only_this_server(route: Any) -> None:
            if urlsplit(route.request.url).netloc == local:
                route.continue_()
            else:
                left_the_machine.append(route.request.url)
                route.abort()

        context.route("**/*", only_this_server)
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        errors = collect_page_errors(page)
        seen: dict[str, Any] = {}

        response = page.goto(f"{asgi_live_server.url}/api/docs/")
        seen["swagger policy"] = response.headers["content-security-policy"]
        page.wait_for_selector("#swagger-ui .opblock")
        page.wait_for_load_state("networkidle")
        seen["swagger operations"] = sorted(map(tuple, page.evaluate(SWAGGER_OPERATIONS)))
        seen["swagger violations"] = page.evaluate("window.cspViolations") + errors
        screenshot(page, "api-docs-swagger", full_page=False)
        errors.clear()

        response = page.goto(f"{asgi_live_server.url}/api/redoc/")
        seen["redoc policy"] = response.headers["content-security-policy"]
        page.wait_for_selector(REDOC_MENU_OPERATION, state="attached")  # in collapsed groups
        page.wait_for_load_state("networkidle")
        seen["redoc operations"] = sorted(page.evaluate(REDOC_OPERATIONS))
        # Search runs in ReDoc's Web Worker, the one thing its page's policy adds.
        page.fill("[role=search] input", "vote")
        page.wait_for_selector("[data-role='search:results'] [data-item-id$='/operation/battle_vote']")
        screenshot(page, "api-docs-redoc", full_page=False)
        seen["redoc violations"] = page.evaluate("window.cspViolations") + errors
        seen["left the machine"] = left_the_machine
        return seen

    seen = run_in_browser(scenario)
    assert "worker-src" not in seen["swagger policy"]
    assert "worker-src 'self' blob:" in seen["redoc policy"]
    assert ("post", "/api/battles/") in seen["swagger operations"]
    assert ("get", "/api/leaderboards/") in seen["swagger operations"]
    assert seen["swagger operations"] == sorted(operations.values())
    assert seen["redoc operations"] == sorted(operations)
    assert seen["swagger violations"] == []
    assert seen["redoc violations"] == []
    assert seen["left the machine"] == []
