"""Shared helpers of the arena tests: a catalogue of real imported clips (the reward tests use it too), battle
ageing, listening, isolation."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db.models import F

from arena.ingest import clip_import
from arena.models import Battle, Clip, Prompt, System
from arena.sampling import sampling_cache_clear
from tests.factories import ClipFactory, PromptFactory, SystemFactory, write_tone


@pytest.fixture(autouse=True)
def arena_isolated(settings: Any) -> None:
    """No sampling cache and no throttle counters carried over from another test, and limits no test meets by
    accident (the tests of the limits set their own)."""
    settings.EARSHOT_SAMPLING_CACHE_SECONDS = 0
    settings.EARSHOT_REVEAL_RATINGS_CACHE_SECONDS = 0
    settings.EARSHOT_RATE_LIMIT_RATER = "10000/min"
    settings.EARSHOT_RATE_LIMIT_IP = "10000/min"
    settings.EARSHOT_NEW_RATERS_PER_IP = "10000/hour"
    settings.EARSHOT_VOTES_PER_IP = "100000/day"
    settings.EARSHOT_GENERATION_RATE_RATER = "10000/min"
    settings.EARSHOT_GENERATION_RATE_IP = "10000/min"
    cache.clear()
    sampling_cache_clear()


@dataclass
class Catalogue:
    systems: list[System] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)

    def clip(self, system: int, prompt: int) -> Clip:
        """The clip of the `system`-th system on the `prompt`-th prompt."""
        return next(c for c in self.clips if c.system_id == self.systems[system].pk
                    and c.prompt_id == self.prompts[prompt].pk)


def catalogue_import(
    folder: Path,
    *,
    systems: int = 2,
    prompts: int = 1,
    seconds: float = 1.0,
    lyrics: bool = False,
    system_kwargs: list[dict[str, Any]] | None = None,
) -> Catalogue:
    """Systems × prompts real clips (tones written with soundfile, imported through arena.ingest.clip_import)."""
    made = Catalogue()
    for index in range(systems):
        kwargs = system_kwargs[index] if system_kwargs else {}
        made.systems.append(SystemFactory(**kwargs))
    for _ in range(prompts):
        made.prompts.append(PromptFactory(lyrics="La la la, the night is young\n" if lyrics else ""))
    for p_index, prompt in enumerate(made.prompts):
        for s_index, system in enumerate(made.systems):
            seed = p_index * 100 + s_index
            path = write_tone(
                folder / f"take-{seed}.wav", seconds=seconds, frequency=220.0 + 55 * s_index, seed=seed
            )
            clip, _ = clip_import(system=system, prompt=prompt, path=path)
            made.clips.append(clip)
    return made


def battle_age(battle: Battle, seconds: float) -> None:
    """Make the battle `seconds` older, as if it had been created that long ago (its expiry stays where it was)."""
    Battle.objects.filter(pk=battle.pk).update(
        created_at=F("created_at") - timedelta(seconds=seconds),
    )
    battle.refresh_from_db()


def audio_fetch(client: Any, body: dict[str, Any]) -> None:
    """Fetch both clips of a battle through its audio URLs, whole, as a player does (the vote checks it)."""
    for side in ("a", "b"):
        response = client.get(body["clips"][side]["audio_url"])
        assert response.status_code == 200, response.content[:200]


def listening_events(*, a_ms: int, b_ms: int, start_client_ms: int = 1_000) -> list[dict[str, Any]]:
    """Events of a listener who plays A for `a_ms`, pauses, then plays B for `b_ms` and pauses."""
    t = start_client_ms
    events = [
        {"type": "play", "side": "a", "position_ms": 0, "client_ms": t},
        {"type": "pause", "side": "a", "position_ms": a_ms, "client_ms": t + a_ms},
        {"type": "play", "side": "b", "position_ms": 0, "client_ms": t + a_ms + 50},
        {"type": "pause", "side": "b", "position_ms": b_ms, "client_ms": t + a_ms + 50 + b_ms},
    ]
    return events


def catalogue_rows(*, systems: int = 3, prompts: int = 2) -> None:
    """Systems × prompts clips as factory rows (1 s, a tiny real MP3 each): enough to open battles, much faster
    than catalogue_import where the ingest does not matter."""
    made = [SystemFactory() for _ in range(systems)]
    for _ in range(prompts):
        prompt = PromptFactory()
        for system in made:
            ClipFactory(system=system, prompt=prompt)
