"""The reward model's answers to the arena's and scoring's hooks (registered from RewardConfig.ready()).

None of these imports torch: scoring runs in Celery workers, and suggestions read stored scores.
"""
from __future__ import annotations

from collections.abc import Sequence

from arena import hooks as arena_hooks
from arena.hooks import SuggestionFields
from arena.models import Clip
from reward.jobs import agreement_recompute_job, clip_scoring_queue
from reward.selectors import OVERALL, clip_scores, suggestion_for_new_battle
from scoring import hooks as scoring_hooks


def _clips_imported(clip_ids: Sequence[int]) -> None:
    clip_scoring_queue(clip_ids=clip_ids)


def _battle_suggestion(clip_a: Clip, clip_b: Clip) -> SuggestionFields:
    return suggestion_for_new_battle(clip_a=clip_a, clip_b=clip_b)  # type: ignore[return-value]


def _clip_scores(clip_ids: Sequence[int]) -> dict[int, float]:
    scores = clip_scores(clip_ids=list(clip_ids))
    return {clip_id: axes[OVERALL] for clip_id, axes in scores.items() if OVERALL in axes}


def register() -> None:
    arena_hooks.on_clips_imported(_clips_imported)
    arena_hooks.provide_battle_suggestion(_battle_suggestion)
    arena_hooks.provide_clip_scores(_clip_scores)
    scoring_hooks.add_vote_companion(agreement_recompute_job)
