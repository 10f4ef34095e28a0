"""Helpers of the reward-model Django tests: a tiny real checkpoint and votes (the catalogue of real imported clips
is the arena tests' tests.arena.arena_support.catalogue_import)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from arena.models import Battle, Clip, Rater, Vote
from reward.models import RewardModelVersion
from tests.factories import RaterFactory

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
