"""The arena page in Debian's Chromium against the real API, served as in production (nginx in front of gunicorn,
audio handed to nginx with X-Accel-Redirect): listen, switch, vote, reveal, next; keyboard and touch."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from arena.errors import BattleExpired
from arena.ingest import clip_import
from arena.models import Battle, Prompt, System, Vote
from arena.services.listening import fetched_total_ms
from tests.browser import DESKTOP, PHONE, collect_page_errors, needs_postgres, off_loop, run_in_browser, screenshot
from tests.factories import write_tone
from tests.splitstack import SplitStack, collected_static, split_stack  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_postgres]

MIN_LISTEN_SECONDS = 1.0
# Several times the minimum: a switch to B happens where A was when its minimum was heard, and on a slow or loaded
# machine that point comes late; B must still have a minimum's worth of clip left after it.
CLIP_SECONDS = 6.0
SYSTEM_NAMES = ["Aurora Synth", "Basilisk Audio", "Cobalt Music"]
LISTEN_TIMEOUT_MS = 15_000


@pytest.fixture
def catalogue(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[list[System]]:
    """Three systems with real 3 s clips for two prompts (one with lyrics and reference audio), imported through
    the real ingest. No Celery worker runs here: the tasks that imports and votes queue are dropped afterwards, so
    they do not pile up in the broker."""
    from config.celery import app
    settings.EARSHOT_MIN_LISTEN_SECONDS = MIN_LISTEN_SECONDS
    systems = [System.objects.create(name=name, slug=name.lower().replace(" ", "-")) for name in SYSTEM_NAMES]
    prompts = [
        Prompt.objects.create(text="A calm piano piece in A minor at 72 BPM, soft and slow"),
        Prompt.objects.create(
            text="An upbeat folk song with acoustic guitar", lyrics="Morning light on the river\nwe sing along"
        ),
    ]
    for p, prompt in enumerate(prompts):
        for s, system in enumerate(systems):
            frequency = 220.0 * (1 + s) + 30 * p
            path = write_tone(
                tmp_path / f"tone-{p}-{s}.wav", seconds=CLIP_SECONDS, frequency=frequency, seed=10 * p + s
            )
            clip_import(system=system, prompt=prompt, path=path)
    reference = write_tone(tmp_path / "reference.wav", seconds=CLIP_SECONDS, frequency=330.0, seed=99)
    prompts[1].reference_audio = default_storage.save("references/reference.wav", ContentFile(reference.read_bytes()))
    prompts[1].save(update_fields=["reference_audio"])
    yield systems
    app.control.purge()


@pytest.fixture
def site(split_stack: Callable[..., SplitStack], catalogue: list[System]) -> SplitStack:  # noqa: F811
    """The split stack over the catalogue, its web processes asking for the test's minimum listening."""
    return split_stack(EARSHOT_MIN_LISTEN_SECONDS=str(MIN_LISTEN_SECONDS))


def _min_listen_raise(site: SplitStack, settings: Any, seconds: float) -> None:
    """The operator raises the minimum: the setting changes and the web processes restart with it."""
    settings.EARSHOT_MIN_LISTEN_SECONDS = seconds
    site.http_restart(EARSHOT_MIN_LISTEN_SECONDS=str(seconds))


def _battle_response(response: Any) -> bool:
    return response.url.endswith("/api/battles/") and response.request.method == "POST"


def _vote_response(response: Any) -> bool:
    return response.url.endswith("/vote/") and response.request.method == "POST"


def _wait_until_ready(page: Any) -> None:
    from playwright.sync_api import expect

    for side in "ab":
        expect(page.locator(f"#play-{side}")).to_be_enabled(timeout=LISTEN_TIMEOUT_MS)
        expect(page.locator(f"#waveform-{side} canvas").first).to_be_attached()  # drawn inside its shadow root


def _vote_buttons(page: Any) -> Any:
    return page.locator(".vote-button")


def test_a_rater_listens_switches_and_votes_by_keyboard_then_sees_the_reveal_and_the_next_battle(
    site: SplitStack, catalogue: list[System]
) -> None:
    from playwright.sync_api import expect

    def scenario(browser: Any) -> dict[str, Any]:
        context = browser.new_context(**DESKTOP)
        page = context.new_page()
        errors = collect_page_errors(page)
        with page.expect_response(_battle_response) as first:
            page.goto(f"{site.url}/")
        battle = first.value.json()
        expect(page.locator("#prompt-text")).to_have_text(battle["prompt"]["text"])
        _wait_until_ready(page)
        has_lyrics = bool(battle["prompt"]["lyrics"])
        assert ("lyrics_alignment" in battle["axes"]) is has_lyrics
        expect(page.locator("#axis-lyrics_alignment")).to_have_js_property("hidden", not has_lyrics)
        expect(page.locator("#prompt-lyrics")).to_have_js_property("hidden", not has_lyrics)
        reference_url = battle["prompt"]["reference_audio_url"]
        assert (reference_url is not None) is has_lyrics  # the fixture gives the lyrics prompt the reference
        expect(page.locator("#prompt-reference")).to_have_js_property("hidden", reference_url is None)
        if reference_url:
            assert page.locator("#reference-audio").evaluate("audio => audio.src") == reference_url
            reference = page.request.get(reference_url)
            assert reference.ok and reference.headers["content-type"].startswith("audio/")
        expect(page.locator("#listen-a-text")).to_have_text("0.0 / 1.0 s")
        for button in _vote_buttons(page).all():
            expect(button).to_be_disabled()

        page.keyboard.press("Space")  # plays the current clip, A
        expect(page.locator("#play-a")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#listen-a")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        for button in _vote_buttons(page).all():
            expect(button).to_be_disabled()  # B has not been heard yet

        position_a = page.evaluate("() => document.querySelector('#waveform-a').getAttribute('aria-valuenow')")
        page.keyboard.press("b")  # switch to B at the same position
        expect(page.locator("#play-b")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#play-a")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#player-b")).to_have_class(re.compile(r"\bis-current\b"))
        assert int(page.locator("#waveform-b").get_attribute("aria-valuenow")) >= int(position_a)
        expect(page.locator("#listen-b")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        for button in _vote_buttons(page).all():
            expect(button).to_be_enabled()
        expect(page.locator("#vote-gate")).to_have_text("You can vote now.")

        page.locator("#vote-details summary").click()
        page.get_by_role("button", name="Musicality: A", exact=True).click()
        expect(page.get_by_role("button", name="Musicality: A", exact=True)).to_have_attribute("aria-pressed", "true")
        page.locator("#reason").fill("A has a steadier tone")
        page.locator("#reason").press("1")  # typing, not a vote
        expect(page.locator("#reason")).to_have_value("A has a steadier tone1")
        expect(page.locator("#reveal")).to_be_hidden()
        page.locator("#reason").fill("A has a steadier tone")
        page.locator("#reason").evaluate("element => element.blur()")
        screenshot(page, "arena-desktop-before-vote")

        before_vote = (page.content() + json.dumps(battle)).lower()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
        with page.expect_response(_vote_response) as voted:
            page.keyboard.press("1")  # A is better
        vote_request = voted.value.request.post_data_json
        next_battle = voted.value.json()["next_battle"]
        expect(page.locator("#reveal")).to_be_visible()
        names = {side: page.locator(f"#reveal-{side} .system-name").inner_text() for side in "ab"}
        ratings = {side: page.locator(f"#reveal-{side} .system-rating").inner_text() for side in "ab"}
        summary = page.locator("#reveal-summary").inner_text()
        expect(page.locator("#player-a")).to_have_class(re.compile(r"\bis-picked\b"))
        expect(page.locator("#next-battle")).to_be_focused()
        screenshot(page, "arena-desktop-revealed")

        page.evaluate("() => { window.earshotNoReload = true; }")
        page.keyboard.press("n")
        expect(page.locator("#reveal")).to_be_hidden()
        expect(page.locator("#prompt-text")).to_have_text(next_battle["prompt"]["text"])
        _wait_until_ready(page)
        expect(page.locator("#listen-a-text")).to_have_text("0.0 / 1.0 s")
        expect(page.locator("#reveal-a")).to_be_hidden()
        for button in _vote_buttons(page).all():
            expect(button).to_be_disabled()
        assert page.evaluate("() => window.earshotNoReload") is True  # fetched, not reloaded
        screenshot(page, "arena-desktop-next")
        context.close()
        # The vote carried the last listening events and brought the next battle: "next" started none itself.
        api_calls = [r for r in requests if "/api/" in r and "/audio/" not in r]
        return {"battle": battle, "next": next_battle, "vote_request": vote_request, "api_calls": api_calls,
                "names": names, "ratings": ratings, "summary": summary,
                "before_vote": before_vote, "errors": errors}

    seen = run_in_browser(scenario)

    assert seen["errors"] == []
    for system in catalogue:  # blind until the vote: neither the page nor the battle names a system
        assert system.name.lower() not in seen["before_vote"] and system.slug not in seen["before_vote"]
    assert seen["next"]["id"] != seen["battle"]["id"]
    assert seen["vote_request"]["next"] is True and isinstance(seen["vote_request"]["events"], list)
    assert not [call for call in seen["api_calls"] if call.startswith("POST") and call.endswith("/api/battles/")]
    vote = Vote.objects.select_related("battle", "system_a", "system_b").get()
    assert str(vote.battle.public_id) == seen["battle"]["id"]
    assert vote.choice == "a"
    assert vote.musicality == "a"
    assert vote.prompt_alignment == ""
    assert vote.reason == "A has a steadier tone"
    assert vote.ms_played_a >= MIN_LISTEN_SECONDS * 1000
    assert vote.ms_played_b >= MIN_LISTEN_SECONDS * 1000
    # The server counted the audio Chromium fetched through the battle's URLs (the vote requires it).
    fetched = {side: fetched_total_ms(vote.battle.audio_fetched_ms[side]) for side in "ab"}
    print(f"audio fetched by Chromium (ms): {fetched}")
    assert min(fetched.values()) >= MIN_LISTEN_SECONDS * 1000
    assert vote.switches >= 1
    assert vote.decision_ms > 2 * MIN_LISTEN_SECONDS * 1000
    assert vote.client_hints["viewport"] == "1280x900"
    assert vote.client_hints["ua_family"]
    assert seen["names"] == {"a": vote.system_a.name, "b": vote.system_b.name}
    assert seen["summary"] == f"You picked clip A: {vote.system_a.name}, over {vote.system_b.name}."
    assert set(seen["ratings"].values()) <= {"Not yet rated"} or all(
        text.startswith("Rating ") for text in seen["ratings"].values()
    )
    assert Battle.objects.get(public_id=seen["next"]["id"]).status == Battle.Status.OPEN


def test_a_rater_on_a_phone_listens_and_votes_by_touch(
    site: SplitStack, catalogue: list[System]
) -> None:
    from playwright.sync_api import expect

    def scenario(browser: Any) -> dict[str, Any]:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        errors = collect_page_errors(page)
        page.goto(f"{site.url}/")
        _wait_until_ready(page)
        screenshot(page, "arena-phone")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        target = page.locator(".vote-button").first.bounding_box()

        page.locator("#play-a").tap()
        expect(page.locator("#listen-a")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        page.locator("#switch-to-b").tap()
        expect(page.locator("#play-b")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#listen-b")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        page.get_by_role("button", name="Both bad", exact=True).tap()
        expect(page.locator("#reveal")).to_be_visible()
        screenshot(page, "arena-phone-revealed")
        context.close()
        return {"width": width, "target": target, "errors": errors}

    seen = run_in_browser(scenario)

    assert seen["errors"] == []
    assert seen["width"] <= PHONE["viewport"]["width"]  # no sideways scrolling
    assert seen["target"]["height"] >= 44 and seen["target"]["width"] >= 44
    vote = Vote.objects.get()
    assert vote.choice == "both_bad"
    assert vote.client_hints["viewport"] == "390x844"
    assert vote.client_hints["pointer"] == "coarse"
    assert vote.ms_played_a >= MIN_LISTEN_SECONDS * 1000 and vote.ms_played_b >= MIN_LISTEN_SECONDS * 1000


def test_it_shows_the_servers_message_when_the_battle_expired_and_offers_a_new_one(
    site: SplitStack, catalogue: list[System]
) -> None:
    from playwright.sync_api import expect

    def expire_open_battles() -> int:
        return Battle.objects.filter(status=Battle.Status.OPEN).update(expires_at=timezone.now())

    def scenario(browser: Any) -> dict[str, Any]:
        page = browser.new_context(**DESKTOP).new_page()
        errors = collect_page_errors(page)
        page.goto(f"{site.url}/")
        _wait_until_ready(page)
        page.keyboard.press("Space")
        expect(page.locator("#listen-a")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        page.keyboard.press("b")
        expect(page.locator("#listen-b")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        assert off_loop(expire_open_battles) == 1
        page.keyboard.press("2")
        expect(page.locator("#arena-error")).to_be_visible()
        message = page.locator("#arena-error-message").inner_text()
        expect(page.locator("#reveal")).to_be_hidden()
        screenshot(page, "arena-desktop-expired", full_page=False)
        with page.expect_response(_battle_response):
            page.get_by_role("button", name="Load a new battle").click()
        expect(page.locator("#arena-error")).to_be_hidden()
        _wait_until_ready(page)
        return {"message": message, "errors": errors}

    seen = run_in_browser(scenario)

    assert seen["message"] == BattleExpired.default_message
    assert [e for e in seen["errors"] if "410" not in e] == []  # the browser logs the refused request itself
    assert Vote.objects.count() == 0


def test_a_clip_shorter_than_the_minimum_opens_the_vote_once_heard_to_the_end(
    site: SplitStack, catalogue: list[System], settings: Any
) -> None:
    from playwright.sync_api import expect

    _min_listen_raise(site, settings, 10 * CLIP_SECONDS)  # the whole clip is then what counts

    def scenario(browser: Any) -> dict[str, Any]:
        page = browser.new_context(**DESKTOP).new_page()
        errors = collect_page_errors(page)
        with page.expect_response(_battle_response) as created:
            page.goto(f"{site.url}/")
        battle = created.value.json()
        _wait_until_ready(page)
        page.keyboard.press("Space")
        expect(page.locator("#state-a")).to_have_text("Paused", timeout=LISTEN_TIMEOUT_MS)  # played to the end
        expect(page.locator("#listen-a")).to_have_class(re.compile(r"\bis-done\b"))
        page.locator("#play-b").click()
        expect(page.locator("#state-b")).to_have_text("Paused", timeout=LISTEN_TIMEOUT_MS)
        expect(page.locator("#listen-b")).to_have_class(re.compile(r"\bis-done\b"))
        page.keyboard.press("3")
        expect(page.locator("#reveal")).to_be_visible()
        return {"battle": battle, "errors": errors}

    seen = run_in_browser(scenario)

    assert seen["errors"] == []
    required = seen["battle"]["min_listen_ms"]
    vote = Vote.objects.get()
    assert vote.choice == "tie"
    assert vote.ms_played_a >= required["a"] and vote.ms_played_b >= required["b"]


def test_it_shows_the_servers_message_when_it_counts_too_little_listening_and_takes_the_vote_after_more(
    site: SplitStack, catalogue: list[System], settings: Any
) -> None:
    from playwright.sync_api import expect

    def scenario(browser: Any) -> dict[str, Any]:
        page = browser.new_context(**DESKTOP).new_page()
        errors = collect_page_errors(page)
        page.goto(f"{site.url}/")
        _wait_until_ready(page)
        page.keyboard.press("Space")
        expect(page.locator("#listen-a")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        page.keyboard.press("b")
        expect(page.locator("#listen-b")).to_have_class(re.compile(r"\bis-done\b"), timeout=LISTEN_TIMEOUT_MS)
        page.keyboard.press("Space")
        # The operator raises the minimum while this battle is open: the server now wants the whole clips.
        _min_listen_raise(site, settings, 10 * CLIP_SECONDS)
        with page.expect_response(lambda r: r.url.endswith("/vote/")) as refused:
            page.keyboard.press("2")
        expect(page.locator("#arena-error")).to_be_visible()
        message = page.locator("#arena-error-message").inner_text()
        expect(page.locator("#reveal")).to_be_hidden()
        # The page takes the server's figure: the vote waits for more listening.
        for side in "ab":
            # the whole clip, less the 100 ms a decoder may trim at its ends
            whole = re.escape(f"{CLIP_SECONDS - 0.1:.1f}")
            expect(page.locator(f"#listen-{side}-text")).to_have_text(re.compile(rf" / {whole} s$"))
        expect(page.locator(".vote-button[data-choice='b']")).to_be_disabled()
        screenshot(page, "arena-desktop-too-short", full_page=False)
        for side in ("a", "a", "b", "b"):  # each clip on to its end, then once more from the start
            page.locator(f"#play-{side}").click()
            expect(page.locator(f"#play-{side}")).to_have_attribute("aria-pressed", "true")
            expect(page.locator(f"#play-{side}")).to_have_attribute(
                "aria-pressed", "false", timeout=LISTEN_TIMEOUT_MS
            )
        expect(page.locator(".vote-button[data-choice='b']")).to_be_enabled()
        with page.expect_response(_vote_response) as accepted:
            page.keyboard.press("2")
        expect(page.locator("#reveal")).to_be_visible()
        expect(page.locator("#arena-error")).to_be_hidden()
        page.keyboard.press("Enter")  # the next battle, which came with the vote's answer
        expect(page.locator("#reveal")).to_be_hidden()
        expect(page.locator("#prompt-text")).to_have_text(accepted.value.json()["next_battle"]["prompt"]["text"])
        return {"message": message, "status": refused.value.status, "body": refused.value.json(), "errors": errors}

    seen = run_in_browser(scenario)

    # Too young (the battle is younger than both whole clips) or too short (played too little): the server decides.
    assert seen["status"] == 400
    assert seen["body"]["code"] in {"battle_too_young", "listening_too_short"}
    assert seen["message"] == seen["body"]["message"]
    assert [e for e in seen["errors"] if "400" not in e] == []  # the browser logs the refused request itself
    vote = Vote.objects.get()
    assert vote.choice == "b"
    assert vote.ms_played_a >= CLIP_SECONDS * 1000 and vote.ms_played_b >= CLIP_SECONDS * 1000
