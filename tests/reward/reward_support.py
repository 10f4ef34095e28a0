"""Helpers of the reward-model Django tests: a tiny real checkpoint, a catalogue of real imported clips, votes."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from arena.ingest import clip_import
from arena.models import Battle, Clip, Prompt, Rater, System, Vote
from reward.models import RewardModelVersion
from tests.factories import PromptFactory, RaterFactory, SystemFactory, write_tone

BUNDLED_CLASS = "reward.ml.interface.BundledRewardModel"


def tiny_checkpoint_write(folder: Path, *, seed: int = 0) -> Path:
    """A real checkpoint of a very small RewardNetwork (random weights), saved by the reward core's own code."""
    import torch

    from reward.ml.checkpoint import checkpoint_save
    from reward.ml.network import NetworkConfig, RewardNetwork
    from reward.ml.text import TextConfig

    torch.manual_seed(seed)
    network = RewardNetwork(
        text=TextConfig(buckets=512),
        network=NetworkConfig(channels=(4, 8), embed_dim=16, text_dim=8, head_hidden=8),
    )
    checkpoint_save(model=network, directory=folder, version=f"tiny-{seed}")
    return folder


def version_make(folder: Path, *, name: str = "tiny", seed: int = 0, active: bool = False) -> RewardModelVersion:
    from reward.services import version_register

    version = version_register(name=name, class_path=BUNDLED_CLASS, path=tiny_checkpoint_write(folder, seed=seed))
    if active:
        RewardModelVersion.objects.filter(pk=version.pk).update(active=True)
        version.refresh_from_db()
    return version


@dataclass
class Catalogue:
    systems: list[System] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)

    def clip(self, system: int, prompt: int) -> Clip:
        return next(c for c in self.clips if c.system_id == self.systems[system].pk
                    and c.prompt_id == self.prompts[prompt].pk)


def catalogue_import(folder: Path, *, systems: int = 3, prompts: int = 2, seconds: float = 1.0) -> Catalogue:
    """systems x prompts real clips (tones written with soundfile) imported through arena.ingest.clip_import.

    Higher-numbered systems get more noise, so that there is something for a model to learn."""
    made = Catalogue(
        systems=[SystemFactory() for _ in range(systems)], prompts=[PromptFactory() for _ in range(prompts)]
    )
    for p_index, prompt in enumerate(made.prompts):
        for s_index, system in enumerate(made.systems):
            seed = p_index * 100 + s_index
            path = write_tone(folder / f"take-{seed}.wav", seconds=seconds, frequency=220.0 + 55 * p_index,
                              seed=seed, sample_rate=24000, channels=1)
            clip, _ = clip_import(system=system, prompt=prompt, path=path)
            made.clips.append(clip)
    return made


def vote_cast(
    clip_a: Clip,
    clip_b: Clip,
    choice: str,
    *,
    rater: Rater | None = None,
    musicality: str = "",
    prompt_alignment: str = "",
    suggestion_side: str = "",
    suggestion_p: float | None = None,
    suggestion_shown: bool = False,
) -> Vote:
    """A voted battle and its vote, written directly (the arena's own services are tested elsewhere)."""
    rater = rater or RaterFactory()
    battle = Battle.objects.create(
        rater=rater, prompt=clip_a.prompt, clip_a=clip_a, clip_b=clip_b, status=Battle.Status.VOTED,
        expires_at=timezone.now() + timedelta(hours=1), suggestion_shown=suggestion_shown,
        suggestion_side=suggestion_side, suggestion_p=suggestion_p,
    )
    return Vote.objects.create(
        battle=battle, rater=rater, system_a=clip_a.system, system_b=clip_b.system, prompt=clip_a.prompt,
        choice=choice, musicality=musicality, prompt_alignment=prompt_alignment,
        suggestion_shown=suggestion_shown, suggestion_side=suggestion_side, suggestion_p=suggestion_p,
    )


def wait_until(condition: Callable[[], object], *, timeout: float = 60.0, interval: float = 0.1) -> object:
    """Poll until `condition()` is truthy and return it; fail the test on timeout (a worker runs beside the test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
