"""A listener writes a prompt on the arena page, waits with the progress shown while a real Celery worker has two
HTTP systems generate (a real local generator with latency), then listens to both clips and votes."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena.ingest import clip_import
from arena.models import GenerationRequest, Prompt, System, Vote
from tests.arena.generator_support import GeneratorServer, generator_server
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

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_postgres, pytest.mark.usefixtures("real_stack")]

MIN_LISTEN_SECONDS = 1.0
CLIP_SECONDS = 4.0
LATENCY_S = 1.5
PROMPT = "A dreamy bells piece at 80 bpm, 4 seconds"
TIMEOUT_MS = 60_000


@pytest.fixture
def arena_with_generators(asgi_live_server: LiveServer, tmp_path: Path, settings: Any  # noqa: F811
                          ) -> Iterator[GeneratorServer]:
    settings.EARSHOT_MIN_LISTEN_SECONDS = MIN_LISTEN_SECONDS
    settings.EARSHOT_GENERATION_POLL_MS = 150
    bank = Prompt.objects.create(text="A calm piano piece")
    for index, name in enumerate(("Imported One", "Imported Two")):
        system = System.objects.create(name=name, slug=name.lower().replace(" ", "-"))
        clip_import(system=system, prompt=bank,
                    path=write_tone(tmp_path / f"{index}.wav", seconds=CLIP_SECONDS, frequency=220.0 * (index + 1),
                                    seed=index))
    with generator_server(latency_s=LATENCY_S) as server:
        for name in ("Gen Alpha", "Gen Beta"):
            slug = name.lower().replace(" ", "-")
            System.objects.create(name=name, slug=slug, generator="arena.generation.generators.HttpJsonGenerator",
                                  generator_config={"endpoint": server.endpoint("ok", system=slug),
                                                    "expected_s": LATENCY_S, "timeout_s": 30})
        yield server


def test_a_listener_writes_a_prompt_waits_with_progress_then_listens_and_votes(
    asgi_live_server: LiveServer, arena_with_generators: GeneratorServer, celery_worker: Any  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    def scenario(browser: Any) -> dict[str, Any]:
        page = browser.new_context(**DESKTOP).new_page()
        errors = collect_page_errors(page)
        page.goto(f"{asgi_live_server.url}/")
        expect(page.locator("#prompt-text")).to_have_text("A calm piano piece")  # the arena's own battle first
        page.locator("#own-prompt-heading").click()
        page.locator("#own-prompt-text").fill(PROMPT)
        # Every value the progress bar takes, and every prompt the page shows meanwhile.
        page.evaluate("""() => {
            window.__progress = []; window.__prompts = [];
            new MutationObserver(() => window.__progress.push(
                document.querySelector('#generation-bar').getAttribute('aria-valuenow')))
              .observe(document.querySelector('#generation-bar'), {attributes: true});
            new MutationObserver(() => window.__prompts.push(document.querySelector('#prompt-text').textContent))
              .observe(document.querySelector('#prompt-text'), {childList: true, characterData: true, subtree: true});
        }""")
        page.locator("#own-prompt-submit").click()
        expect(page.locator("#generation-progress")).to_be_visible()
        expect(page.locator("#generation-status")).to_contain_text("making music", timeout=TIMEOUT_MS)
        screenshot(page, "generation-waiting")
        expect(page.locator("#prompt-text")).to_have_text(PROMPT, timeout=TIMEOUT_MS)
        expect(page.locator("#generation-progress")).to_be_hidden()
        for side in "ab":
            expect(page.locator(f"#play-{side}")).to_be_enabled(timeout=TIMEOUT_MS)
        page.locator("#play-a").click()
        expect(page.locator("#listen-a")).to_have_class(re.compile(r"\bis-done\b"), timeout=TIMEOUT_MS)
        page.locator("#play-b").click()
        expect(page.locator("#listen-b")).to_have_class(re.compile(r"\bis-done\b"), timeout=TIMEOUT_MS)
        page.locator("#play-b").click()  # pause
        page.locator(".vote-button[data-choice='b']").click()
        expect(page.locator("#reveal")).to_be_visible(timeout=TIMEOUT_MS)
        names = {page.locator(f"#reveal-{side} .system-name").inner_text() for side in "ab"}
        screenshot(page, "generation-voted")
        return {"errors": errors, "progress": page.evaluate("window.__progress"),
                "prompts": page.evaluate("window.__prompts"), "names": names}

    seen = run_in_browser(scenario)
    assert seen["errors"] == []
    assert seen["names"] == {"Gen Alpha", "Gen Beta"}
    progress = [int(value) for value in seen["progress"]]
    assert progress and progress == sorted(progress) and 0 < max(progress) <= 100
    # Nothing of the new battle was shown before it was whole: the prompt changed once, to the listener's.
    assert [text for text in seen["prompts"] if text != "Loading a battle…"] == [PROMPT]
    request = GenerationRequest.objects.select_related("battle").get()
    assert request.status == "ready" and request.origin == "listener" and request.moderation == "accepted"
    vote = Vote.objects.select_related("prompt").get()
    assert vote.battle_id == request.battle_id and vote.choice == "b" and vote.prompt.origin == "listener"
    assert request.battle.prompt_detailed["bpm"] == 80
