"""Routing: the rule router's reading of a listener's input, and pairing only systems whose signature serves it."""
from __future__ import annotations

import random

import pytest

from arena.errors import NoGeneratorAvailable
from arena.generation.routing import ListenerInput, RuleRouter
from arena.generation.signature import DetailedPrompt, GeneratorSignature
from arena.models import GenerationRequest, System
from arena.services.generation import candidates_for, prompt_submit
from tests.factories import RaterFactory, SystemFactory

ROUTER = RuleRouter()
HTTP = "arena.generation.generators.HttpJsonGenerator"


@pytest.mark.parametrize(("given", "expected"), [
    (ListenerInput("A calm piano piece at 72 bpm, 20 seconds"),
     DetailedPrompt("A calm piano piece at 72 bpm, 20 seconds", instrumental=True, duration=20.0, bpm=72)),
    (ListenerInput("an upbeat pop song with female vocals, 2 minutes"),
     DetailedPrompt("an upbeat pop song with female vocals, 2 minutes", instrumental=False, duration=120.0)),
    (ListenerInput("dreamy synthwave, instrumental, no vocals"),
     DetailedPrompt("dreamy synthwave, instrumental, no vocals", instrumental=True)),
    (ListenerInput("a folk ballad", lyrics="  the river runs\nto the sea  "),
     DetailedPrompt("a folk ballad", instrumental=False, lyrics="the river runs\nto the sea")),
    (ListenerInput("a sea shanty\nLyrics:\nheave away, haul away"),
     DetailedPrompt("a sea shanty", instrumental=False, lyrics="heave away, haul away")),
    (ListenerInput("techno at 999 bpm", duration_s=15.0),
     DetailedPrompt("techno at 999 bpm", instrumental=True, duration=15.0)),
    (ListenerInput("jazz with a singer", instrumental=True),
     DetailedPrompt("jazz with a singer", instrumental=True)),
])
def test_the_rule_router_reads_lyrics_instrumental_duration_and_tempo(
    given: ListenerInput, expected: DetailedPrompt
) -> None:
    assert ROUTER.route(given) == expected


def test_the_detailed_prompt_has_music_arenas_keys() -> None:
    assert set(DetailedPrompt("x").as_json()) == {"overall_prompt", "instrumental", "lyrics", "duration", "bpm"}


@pytest.mark.parametrize(("signature", "prompt", "why"), [
    (GeneratorSignature(), DetailedPrompt("x", instrumental=False, lyrics="la"), "does not take lyrics"),
    (GeneratorSignature(lyrics=True), DetailedPrompt("x", instrumental=False, lyrics="la"),
     "instrumental music only"),
    (GeneratorSignature(instrumental=False, vocal=True), DetailedPrompt("x"), "does not make instrumental"),
    (GeneratorSignature(max_duration_s=10), DetailedPrompt("x", duration=30), "at most 10 s"),
])
def test_a_signature_says_why_it_cannot_serve(signature: GeneratorSignature, prompt: DetailedPrompt,
                                              why: str) -> None:
    assert why in (signature.refusal(prompt) or "")


def _system(slug: str, **signature: object) -> System:
    return SystemFactory(slug=slug, name=slug, generator=HTTP,
                         generator_config={"endpoint": f"http://127.0.0.1:9/{slug}", "signature": signature})


@pytest.mark.django_db
def test_a_lyrics_prompt_never_pairs_an_instrumental_only_system() -> None:
    singers = [_system(f"singer-{i}", lyrics=True, vocal=True, instrumental=False) for i in range(2)]
    for i in range(3):
        _system(f"instrumental-{i}")
    SystemFactory(slug="imported-only")
    rater = RaterFactory()
    rng = random.Random(3)
    singer_ids = {s.pk for s in singers}
    for draw in range(30):
        request = prompt_submit(rater=rater, text=f"a ballad number {draw}", lyrics="hold me close", rng=rng)
        assert {request.generation_a.system_id, request.generation_b.system_id} == singer_ids
        assert request.prompt_detailed["lyrics"] == "hold me close"
        assert request.prompt_detailed["instrumental"] is False
    # ...while an instrumental prompt draws among the instrumental systems only.
    seen: set[int] = set()
    for draw in range(30):
        request = prompt_submit(rater=rater, text=f"an ambient piece {draw}", rng=rng)
        seen |= {request.generation_a.system_id, request.generation_b.system_id}
    assert seen.isdisjoint(singer_ids) and len(seen) == 3


@pytest.mark.django_db
def test_with_fewer_than_two_systems_that_can_serve_the_listener_is_told_why() -> None:
    _system("one-singer", lyrics=True, vocal=True)
    _system("plain")
    _system("short", max_duration_s=5)
    with pytest.raises(NoGeneratorAvailable) as refused:
        prompt_submit(rater=RaterFactory(), text="a song", lyrics="la la la")
    assert "No two systems here can make music with lyrics" in refused.value.message
    assert refused.value.status == 503
    assert not GenerationRequest.objects.exists()


@pytest.mark.django_db
def test_a_system_whose_config_broke_is_left_out() -> None:
    _system("fine-1")
    _system("fine-2")
    SystemFactory(slug="broken", generator=HTTP, generator_config={"endpoint": "nope"})
    assert sorted(c.system.slug for c in candidates_for(DetailedPrompt("x"))) == ["fine-1", "fine-2"]
