"""A campaign rater in Debian's Chromium against the real pages and API: joins by invite link, agrees to the
consent, works through a practice item and a small campaign (one item skipped with a reason) on the arena's page in
campaign mode, and ends on the completion page, which sends them on with the code."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater
from arena.ingest import clip_import
from arena.models import Battle, Prompt, System, Vote
from tests.browser import (
    DESKTOP,
    LiveServer,
    asgi_live_server,  # noqa: F401 (fixture)
    collect_page_errors,
    needs_postgres,
    run_in_browser,
    screenshot,
)
from tests.factories import write_tone

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_postgres]

CLIP_SECONDS = 3.0
LISTEN_TIMEOUT_MS = 15_000
SYSTEM_NAMES = ["Aurora Synth", "Basilisk Audio", "Cobalt Music"]


@pytest.fixture
def study(asgi_live_server: LiveServer, tmp_path: Path, settings: Any) -> Iterator[Campaign]:  # noqa: F811
    """An open campaign, k = 1: the three system pairs of one prompt, and one practice pair of another prompt, all
    real 3 s clips imported through the real ingest. No Celery worker runs here: queued tasks are dropped after."""
    from config.celery import app

    settings.EARSHOT_NEW_RATERS_PER_IP = "1000/hour"
    systems = [System.objects.create(name=name, slug=name.lower().replace(" ", "-")) for name in SYSTEM_NAMES]
    prompts = [Prompt.objects.create(text="A calm piano piece in A minor, soft and slow"),
               Prompt.objects.create(text="A short drum loop to practise on")]
    clips = {}
    for p, prompt in enumerate(prompts):
        for s, system in enumerate(systems):
            path = write_tone(tmp_path / f"tone-{p}-{s}.wav", seconds=CLIP_SECONDS, frequency=220.0 * (1 + s) + 30 * p,
                              seed=10 * p + s)
            clips[p, s] = clip_import(system=system, prompt=prompt, path=path)[0]
    campaign = Campaign.objects.create(
        name="Piano study", slug="piano-study", status=Campaign.Status.OPEN, overlap=1, gold_rate=0.0,
        axes=["overall", "musicality"], min_listen_seconds=1.0, fast_decision_seconds=0.0, practice_items=1,
        instructions="Listen to **both** clips, then say which one is *better music*.",
        consent="Your answers are stored without your name. You may stop at any time.",
        completion_url=f"{asgi_live_server.url}/healthz?cc=",
    )
    for position, (first, second) in enumerate([(0, 1), (0, 2), (1, 2)]):
        CampaignPair.objects.create(campaign=campaign, prompt=prompts[0], clip_a=clips[0, first],
                                    clip_b=clips[0, second], overlap=1, position=position)
    CampaignPair.objects.create(campaign=campaign, prompt=prompts[1], clip_a=clips[1, 0], clip_b=clips[1, 1],
                                overlap=1, kind=CampaignPair.Kind.PRACTICE)
    yield campaign
    app.control.purge()


def _next_response(response: Any) -> bool:
    return response.url.endswith("/next/") and response.request.method == "POST"


def _vote_response(response: Any) -> bool:
    return response.url.endswith("/vote/") and response.request.method == "POST"


def _listen(page: Any) -> None:
    from playwright.sync_api import expect

    for side in "ab":
        expect(page.locator(f"#play-{side}")).to_be_enabled(timeout=LISTEN_TIMEOUT_MS)
    for side in "ab":
        page.locator(f"#play-{side}").click()
        expect(page.locator(f"#listen-{side}")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)


def test_a_rater_joins_by_link_consents_and_works_through_the_campaign_to_its_completion_code(
    asgi_live_server: LiveServer, study: Campaign  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    code = study.completion_code
    base = asgi_live_server.url

    def scenario(browser: Any) -> dict[str, Any]:
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        errors = collect_page_errors(page)
        page.goto(f"{base}/c/piano-study/?invite={study.invite_token}")
        assert page.url == f"{base}/c/piano-study/"  # the token left the address bar
        expect(page.locator("#campaign-consent")).to_contain_text("You may stop at any time.")
        expect(page.locator("#campaign-instructions strong")).to_have_text("both")
        screenshot(page, "campaign-consent")
        with page.expect_response(_next_response) as first:
            page.get_by_role("button", name="I agree — start").click()
        items = [first.value.json()]
        progress, practice_label, vote_requests, pages = [], [], [], []
        while True:
            item = items[-1]
            expect(page.locator("#prompt-text")).to_have_text(item["battle"]["prompt"]["text"])
            progress.append(page.locator("#campaign-progress").inner_text())
            practice_label.append(page.locator("#campaign-practice").is_visible())
            pages.append(page.content().lower())
            if len(items) == 1:
                screenshot(page, "campaign-practice", full_page=False)
            if len(items) == 3:  # the second regular item is skipped, with a reason
                page.locator("#skip summary").click()
                page.locator("#skip-reason").select_option("cannot_judge")
                page.locator("#skip-note").fill("both clips sound the same to me")
                with page.expect_response(_next_response) as following:
                    page.get_by_role("button", name="Skip this item").click()
                items.append(following.value.json())
                continue
            _listen(page)
            if len(items) == 2:
                expect(page.locator("#vote-details")).to_have_js_property("open", True)
                page.get_by_role("button", name="Musicality: B", exact=True).click()
                screenshot(page, "campaign-item")
            with page.expect_response(_vote_response) as voted:
                page.locator(".vote-button[data-choice='b']").click()
            vote_requests.append(voted.value.request.post_data_json)
            expect(page.locator("#reveal")).to_be_visible()
            expect(page.locator("#reveal-summary")).to_have_text("You picked clip B. Your answer is recorded.")
            expect(page.locator("#reveal-a")).to_be_hidden()
            if len(items) == 4:  # the last one: /next/ answers done and the page goes to the completion page
                page.locator("#next-battle").click()
                break
            with page.expect_response(_next_response) as following:
                page.locator("#next-battle").click()
            items.append(following.value.json())
        page.wait_for_url(f"{base}/c/piano-study/done/")
        shown_code = page.locator("#completion-code").inner_text()
        link = page.locator("#completion-link").get_attribute("href")
        screenshot(page, "campaign-done")
        errors_on_our_pages = list(errors)  # the landing page (here /healthz, JSON) has no favicon: not ours
        page.wait_for_url(re.compile(rf"/healthz\?cc={code}$"), timeout=30_000)  # the page's own redirect
        context.close()
        return {"items": items, "progress": progress, "practice": practice_label, "votes": vote_requests,
                "code": shown_code, "link": link, "pages": pages, "errors": errors_on_our_pages}

    seen = run_in_browser(scenario)

    assert seen["errors"] == []
    assert [item["kind"] for item in seen["items"]] == ["practice", "item", "item", "item"]
    assert seen["practice"] == [True, False, False, False]
    assert seen["progress"] == ["Practice item 1 of 1", "Item 1 of about 3", "Item 2 of about 3",
                                "Item 3 of about 3"]
    assert all(vote["next"] is False for vote in seen["votes"])
    assert seen["code"] == study.completion_code
    assert seen["link"] == f"{asgi_live_server.url}/healthz?cc={study.completion_code}"
    for page in seen["pages"]:  # blind: no system named on the page, ever
        for name in SYSTEM_NAMES:
            assert name.lower() not in page
    member = CampaignRater.objects.get()
    assert member.consented_at is not None and member.completed_at is not None
    assert member.practice_done == 1 and member.votes == 2 and member.skips == 1
    skipped = Assignment.objects.get(status=Assignment.Status.SKIPPED)
    assert skipped.skip_reason == "cannot_judge: both clips sound the same to me"
    votes = list(Vote.objects.all())
    assert len(votes) == 3 and {vote.choice for vote in votes} == {"b"}
    assert all(vote.ms_played_a >= 1000 and vote.ms_played_b >= 1000 for vote in votes)
    assert [vote.musicality for vote in Vote.objects.order_by("id")] == ["", "b", ""]
    assert not Battle.objects.filter(mode=Battle.Mode.ARENA).exists()
