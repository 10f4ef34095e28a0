"""The leaderboard in Debian's Chromium on the full stack: a vote cast through the HTTP API in one browser updates
the leaderboard open in another, without a reload (nginx in front of gunicorn for HTTP and uvicorn for the
websocket, Redis channel layer, a real Celery worker)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from arena.models import Choice, Prompt, System, Vote
from scoring.scopes import scope_parse
from scoring.selectors import snapshot_current
from scoring.services import snapshot_refresh
from tests.browser import DESKTOP, PHONE, collect_page_errors, needs_postgres, run_in_browser, screenshot
from tests.splitstack import SplitStack, collected_static, split_stack  # noqa: F401 (fixtures)

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.realstack, needs_postgres,
              pytest.mark.usefixtures("real_stack")]

UPDATE_TIMEOUT_MS = 30_000
# What `seeded` sets here, for the web processes (the Celery worker runs in this process).
WEB_ENV = {"EARSHOT_LEADERBOARD_MIN_VOTES": "0", "EARSHOT_LEADERBOARD_PRELIMINARY_VOTES": "9",
           "EARSHOT_BOOTSTRAP_ROUNDS": "300", "EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS": "0.2",
           "EARSHOT_MIN_LISTEN_SECONDS": "0"}

# The rater's browser casts its vote with the API, as the arena page's script does.
CAST_VOTE_JS = """
async () => {
  const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")).split("=")[1];
  const headers = {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token};
  const battle = await (await fetch("/api/battles/", {method: "POST", headers, credentials: "same-origin"})).json();
  const vote = await fetch(`/api/battles/${battle.id}/vote/`, {
    method: "POST", headers, credentials: "same-origin", body: JSON.stringify({choice: "a"}),
  });
  return {status: vote.status, body: await vote.json()};
}
"""


@pytest.fixture
def seeded(vote_writer: VoteWriter, settings: Any) -> list[System]:
    """Three systems with clips for one prompt, twelve earlier votes and their snapshot."""
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_LEADERBOARD_PRELIMINARY_VOTES = 9
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 300
    settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = 0.2
    settings.EARSHOT_MIN_LISTEN_SECONDS = 0.0
    systems = [System.objects.create(name=name, slug=name.lower().replace(" ", "-"))
               for name in ("Aurora Synth", "Basilisk Audio", "Cobalt Music")]
    prompt = Prompt.objects.create(text="A calm piano piece in A minor at 72 BPM")
    aurora, basilisk, cobalt = systems
    vote_writer.cast(
        [(aurora, basilisk, Choice.A)] * 4 + [(basilisk, cobalt, Choice.A)] * 3 + [(cobalt, aurora, Choice.B)] * 3
        + [(aurora, cobalt, Choice.TIE), (basilisk, aurora, Choice.A)],
        prompt=prompt,
    )
    assert snapshot_refresh(scope=scope_parse("arena")) is not None
    return systems


def test_a_vote_in_one_browser_updates_the_leaderboard_open_in_another_without_reload(
    split_stack: Callable[..., SplitStack],  # noqa: F811
    seeded: list[System],
    celery_worker: Any,
    redis_channel_layer: Any,
) -> None:
    from playwright.sync_api import expect

    base = split_stack(**WEB_ENV).url

    def scenario(browser: Any) -> dict[str, Any]:
        viewer = browser.new_context(**DESKTOP).new_page()
        errors = collect_page_errors(viewer)
        viewer.goto(f"{base}/leaderboard/")
        board = viewer.locator("#leaderboard")
        expect(board).to_have_attribute("data-ready", "true")
        expect(viewer.locator("#live-status")).to_have_text("Live", timeout=10_000)
        expect(viewer.locator("#leaderboard-rows tr")).to_have_count(3)
        expect(board).to_have_attribute("data-vote-count", "12")
        expect(viewer.locator("#leaderboard-rows .badge-preliminary")).to_have_count(2)  # 8 and 7 votes: below 9
        expect(viewer.locator("#ratings-chart")).to_be_visible()
        before_rows = viewer.locator("#leaderboard-rows tr th").all_inner_texts()
        before_separation = viewer.locator("#leaderboard-rows td.separation").all_inner_texts()
        viewer.evaluate("window.__sameDocument = true")
        screenshot(viewer, "leaderboard-before-vote")

        rater = browser.new_context(**PHONE).new_page()
        rater.goto(f"{base}/")
        cast = rater.evaluate(CAST_VOTE_JS)

        expect(board).to_have_attribute("data-vote-count", "13", timeout=UPDATE_TIMEOUT_MS)
        expect(viewer.locator("#snapshot-meta")).to_contain_text("13 votes")
        same_document = viewer.evaluate("window.__sameDocument === true")
        announced = viewer.locator("#leaderboard-announce").inner_text()
        after_separation = viewer.locator("#leaderboard-rows td.separation").all_inner_texts()
        viewer.wait_for_timeout(400)  # let the charts finish their short animation before the screenshot
        screenshot(viewer, "leaderboard-after-vote")

        rater.goto(f"{base}/leaderboard/")
        expect(rater.locator("#leaderboard-rows tr")).to_have_count(3)
        rater.wait_for_timeout(400)
        screenshot(rater, "leaderboard-phone")

        viewer.select_option("#scope-picker", "arena:instrumental")
        expect(board).to_have_attribute("data-scope", "arena:instrumental")
        expect(viewer.locator("#live-status")).to_have_text("Live", timeout=10_000)
        return {
            "cast": cast,
            "same_document": same_document,
            "announced": announced,
            "before_rows": before_rows,
            "before_separation": before_separation,
            "after_separation": after_separation,
            "url": viewer.url,
            "errors": errors,
        }

    outcome = run_in_browser(scenario)
    assert outcome["cast"]["status"] == 201, outcome["cast"]
    assert outcome["same_document"] is True
    assert outcome["announced"] == "Leaderboard updated: 13 votes counted."
    assert outcome["url"].endswith("/leaderboard/?scope=arena%3Ainstrumental")
    assert outcome["errors"] == []
    assert Vote.objects.count() == 13
    current = snapshot_current(scope="arena")
    assert current is not None and current.vote_count == 13
    # "Votes to separate", first render and pushed update alike: one cell a row, the last row's pair has no next.
    assert len(outcome["before_separation"]) == 3 and outcome["before_separation"][-1] == "–"
    shown = {"separated": lambda row: "separated", "beyond_budget": lambda row: "too close",
             "projected": lambda row: f"≈ {row['votes_to_separate']:,}", None: lambda row: "–"}
    assert outcome["after_separation"] == [shown[row["separation"]](row) for row in current.rows]
