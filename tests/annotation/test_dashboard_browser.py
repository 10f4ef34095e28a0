"""A campaign's dashboard in Debian's Chromium on the full stack: votes cast through the arena's real vote path while
the page is open update its progress, rater table, boards and agreement without a reload (uvicorn, Redis channel
layer, a real Celery worker recomputing the campaign's boards and pushing them)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from annotation.assignment import assignment_next
from annotation.models import CampaignPair, CampaignRater
from scoring.models import LeaderboardSnapshot
from scoring.scopes import scope_parse
from scoring.services import snapshot_refresh
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.annotation.test_dashboard import vote_write
from tests.arena.arena_support import arena_isolated  # noqa: F401
from tests.browser import (
    DESKTOP,
    PHONE,
    LiveServer,
    asgi_live_server,  # noqa: F401 (fixture)
    collect_page_errors,
    needs_postgres,
    off_loop,
    run_in_browser,
    screenshot,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.realstack, needs_postgres,
              pytest.mark.usefixtures("real_stack")]

UPDATE_TIMEOUT_MS = 30_000
SHOTS = Path("/tmp/shots")


def shot(page: Any, name: str) -> None:
    """A full-page screenshot under artifacts/ (tests.browser), copied to /tmp/shots/ for a person to look at."""
    path = screenshot(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def session_cookie(user: AbstractBaseUser, base: str) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    return {"name": django_settings.SESSION_COOKIE_NAME, "value": client.cookies[django_settings.SESSION_COOKIE_NAME]
            .value, "url": base}


def test_votes_arriving_update_the_open_dashboard_without_reload(
    asgi_live_server: LiveServer,  # noqa: F811
    celery_worker: Any,
    redis_channel_layer: Any,
    settings: Any,
) -> None:
    from playwright.sync_api import expect

    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 200
    settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = 0.2
    made = small_campaign(systems=3, prompts=1, overlap=2, axes=["overall", "musicality"])
    campaign = made.campaign
    first, second = member_join(campaign, crowd_id="PROLIFIC-AAA"), member_join(campaign)
    # Earlier work: the first pair done by both raters, its boards computed.
    pair = CampaignPair.objects.filter(campaign=campaign).order_by("position").first()
    assert pair is not None
    vote_write(pair=pair, member=first, choice="a", swapped=False, seconds=9, decision_ms=2500, musicality="a")
    vote_write(pair=pair, member=second, choice="a", swapped=True, seconds=12, decision_ms=4000, musicality="tie")
    for name in (campaign.scope, f"{campaign.scope}:musicality"):
        assert snapshot_refresh(scope=scope_parse(name)) is not None
    # The campaign's Crowd-BT fit, as the reliability-weighted recompute leaves it, knows the first rater only.
    LeaderboardSnapshot.objects.create(
        scope=campaign.scope, method="crowd_bt", digest="fit", win_rate={"systems": [], "win_rate": [], "battles": []},
        extra={"raters": {str(first.rater_id): {"eta": 0.91, "votes": 1}}},
    )
    staff = get_user_model().objects.create_user("researcher", is_staff=True)
    base = asgi_live_server.url
    cookie = session_cookie(staff, base)

    def votes_arrive() -> None:
        """Both raters take their next item (the same pair: fullest first) and vote through the real vote path."""
        for member, choice, musicality in ((first, "b", "b"), (second, "b", "a")):
            member = CampaignRater.objects.get(pk=member.pk)
            assignment = assignment_next(member=member).assignment
            assert assignment is not None
            item_vote(assignment, choice, musicality=musicality)

    def scenario(browser: Any) -> dict[str, Any]:
        context = browser.new_context(**DESKTOP)
        context.add_cookies([cookie])
        page = context.new_page()
        errors = collect_page_errors(page)
        page.goto(f"{base}/c/{campaign.slug}/dashboard/")
        dashboard = page.locator("#dashboard")
        expect(dashboard).to_have_attribute("data-ready", "true")
        expect(page.locator("#live-status")).to_have_text("Live", timeout=10_000)
        expect(page.locator("#pairs-complete")).to_have_text("1")
        expect(page.locator("#pairs-total")).to_have_text("3")
        expect(page.locator("#votes-done")).to_have_text("2")
        expect(page.locator(f'#rater-rows tr[data-member-id="{first.pk}"] .votes')).to_have_text("1")
        expect(page.locator(f'#rater-rows tr[data-member-id="{first.pk}"] .reliability')).to_have_text("0.91")
        expect(page.locator(f'#rater-rows tr[data-member-id="{second.pk}"] .reliability')).to_have_text("—")
        overall = page.locator('section.board[data-axis="overall"]')
        expect(overall.locator("tbody tr")).to_have_count(2)
        expect(overall).to_have_attribute("data-vote-count", "2")
        expect(page.locator('section.board[data-axis="musicality"] tbody tr')).to_have_count(2)
        expect(page.locator('#agreement-rows tr[data-axis="overall"] .pairs')).to_have_text("1")
        page.evaluate("window.__sameDocument = true")
        page.wait_for_timeout(400)  # the charts' short animation, before the screenshot
        shot(page, "dash-before-votes")

        off_loop(votes_arrive)

        expect(page.locator("#pairs-complete")).to_have_text("2", timeout=UPDATE_TIMEOUT_MS)
        expect(page.locator("#votes-done")).to_have_text("4", timeout=UPDATE_TIMEOUT_MS)
        expect(overall).to_have_attribute("data-vote-count", "4", timeout=UPDATE_TIMEOUT_MS)
        expect(overall.locator("tbody tr")).to_have_count(3)
        expect(page.locator(f'#rater-rows tr[data-member-id="{first.pk}"] .votes')).to_have_text("2")
        expect(page.locator(f'#rater-rows tr[data-member-id="{second.pk}"] .votes')).to_have_text("2")
        expect(page.locator('#agreement-rows tr[data-axis="overall"] .pairs')).to_have_text("2")
        expect(page.locator('section.board[data-axis="musicality"]')).to_have_attribute(
            "data-vote-count", "4", timeout=UPDATE_TIMEOUT_MS
        )
        announced = page.locator("#dashboard-announce").inner_text()
        same_document = page.evaluate("window.__sameDocument === true")
        refreshes = int(dashboard.get_attribute("data-refreshes") or "0")
        page.wait_for_timeout(400)
        shot(page, "dash-after-votes")

        phone = browser.new_context(**PHONE)
        phone.add_cookies([cookie])
        small = phone.new_page()
        small.goto(f"{base}/c/{campaign.slug}/dashboard/")
        expect(small.locator("#dashboard")).to_have_attribute("data-ready", "true")
        small.wait_for_timeout(400)
        shot(small, "dash-phone")
        return {"errors": errors, "announced": announced, "same_document": same_document, "refreshes": refreshes}

    outcome = run_in_browser(scenario)
    assert outcome["errors"] == []
    assert outcome["same_document"] is True
    assert outcome["announced"].startswith("Dashboard updated: 4 votes done, 2 of 3 pairs complete")
    assert outcome["refreshes"] >= 1
