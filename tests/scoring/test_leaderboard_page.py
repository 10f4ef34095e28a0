"""/leaderboard/: the page renders from embedded data, offers every scope and loads its script and libraries."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from arena.models import Choice
from scoring.scopes import scope_parse
from scoring.services import snapshot_refresh
from tests.factories import SystemFactory

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = pytest.mark.django_db


def _embedded(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="leaderboard-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its leaderboard data"
    return json.loads(match.group(1))


def test_the_page_embeds_the_current_leaderboard(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 50
    alpha, beta = SystemFactory(name="Alpha"), SystemFactory(name="Beta")
    vote_writer.cast([(alpha, beta, Choice.A)] * 3)
    snapshot_refresh(scope=scope_parse("arena"))

    response = Client().get("/leaderboard/")
    html = response.content.decode()
    assert response.status_code == 200
    data = _embedded(html)
    assert data["scope"] == "arena"
    assert [row["name"] for row in data["snapshot"]["rows"]] == ["Alpha", "Beta"]
    assert [point["vote_count"] for point in data["history"]] == [3]
    assert 'data-ws-path="/ws/leaderboards/"' in html
    assert "scoring/leaderboard.js" in html
    for name in ("arena", "arena:musicality", "arena:instrumental", "arena:lyrics"):
        assert f'value="{name}"' in html
    assert 'aria-current="page"' in html


def test_the_page_picks_the_scope_from_the_query() -> None:
    response = Client().get("/leaderboard/", {"scope": "arena:musicality"})
    assert response.status_code == 200
    assert _embedded(response.content.decode())["scope"] == "arena:musicality"
    assert '<option value="arena:musicality" selected>' in response.content.decode()


def test_an_unknown_scope_gives_a_404_page_that_says_why() -> None:
    response = Client().get("/leaderboard/", {"scope": "arena:tempo"})
    assert response.status_code == 404
    assert "arena:tempo" in response.content.decode()
    assert "leaderboard-data" not in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "scoring/leaderboard.js",
        "scoring/leaderboard.css",
        "vendor/chart.js/dist/chart.js",
        "vendor/chartjs-chart-matrix/dist/chartjs-chart-matrix.esm.js",
        "vendor/chartjs-chart-error-bars/build/index.js",
    ],
)
def test_the_page_assets_are_found_by_staticfiles(path: str) -> None:
    assert finders.find(path), f"{path} is not served"
