"""What the apps above the arena do on its events, registered from their AppConfig.ready().

The arena imports no app above it (lint checks this). Where another app must act on an arena event, or supply a
figure the arena shows, it registers a function here:

- ``vote_recorded(vote)``: inside the vote's transaction, once the vote row is written (scoring queues the
  leaderboards' recompute after commit; the reward model's agreement recompute rides along in that same round trip).
- ``clips_imported(clip_ids)``: inside the import's transaction (the reward model queues scoring after commit).
- ``raters_exclusion_changed()``: inside the transaction that left raters out of the boards or counted them again.
- ``battle_suggestion(clip_a, clip_b)``: one provider; what a new battle records of a model's suggestion.
- ``system_ratings(scope)``: one provider; each system's current rating, shown when a vote reveals the systems.
- ``clip_scores(clip_ids)``: one provider; the active reward model's stored overall score of each clip it scored
  (a campaign's pairs are pre-ranked or filtered by it).

Registering the same function twice keeps one; with nothing registered the events do nothing and the providers
answer "no suggestion", "no ratings yet" and "no scores" ({}).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from arena.models import Clip, Vote


class SuggestionFields(TypedDict):
    """The Battle (and Vote) fields that record a model's suggestion."""

    suggestion_shown: bool
    suggestion_side: str
    suggestion_p: float | None


class SystemRating(TypedDict, total=False):
    rating: float
    ci_low: float
    ci_high: float


NO_SUGGESTION: SuggestionFields = {"suggestion_shown": False, "suggestion_side": "", "suggestion_p": None}

VoteRecorded = Callable[["Vote"], None]
ClipsImported = Callable[[Sequence[int]], None]
RatersExclusionChanged = Callable[[], None]
SuggestionProvider = Callable[["Clip", "Clip"], SuggestionFields]
RatingsProvider = Callable[[str], dict[int, SystemRating]]
ClipScoresProvider = Callable[[Sequence[int]], dict[int, float]]


@dataclass
class _Registry:
    vote_recorded: dict[str, VoteRecorded]
    clips_imported: dict[str, ClipsImported]
    raters_exclusion_changed: dict[str, RatersExclusionChanged]
    battle_suggestion: SuggestionProvider | None = None
    system_ratings: RatingsProvider | None = None
    clip_scores: ClipScoresProvider | None = None


_registry = _Registry(vote_recorded={}, clips_imported={}, raters_exclusion_changed={})


def _key(function: Callable[..., object]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def on_vote_recorded(listener: VoteRecorded) -> None:
    _registry.vote_recorded[_key(listener)] = listener


def on_clips_imported(listener: ClipsImported) -> None:
    _registry.clips_imported[_key(listener)] = listener


def on_raters_exclusion_changed(listener: RatersExclusionChanged) -> None:
    _registry.raters_exclusion_changed[_key(listener)] = listener


def provide_battle_suggestion(provider: SuggestionProvider) -> None:
    _registry.battle_suggestion = provider


def provide_system_ratings(provider: RatingsProvider) -> None:
    _registry.system_ratings = provider


def provide_clip_scores(provider: ClipScoresProvider) -> None:
    _registry.clip_scores = provider


def vote_recorded(vote: Vote) -> None:
    for listener in _registry.vote_recorded.values():
        listener(vote)


def clips_imported(clip_ids: Sequence[int]) -> None:
    for listener in _registry.clips_imported.values():
        listener(clip_ids)


def raters_exclusion_changed() -> None:
    for listener in _registry.raters_exclusion_changed.values():
        listener()


def battle_suggestion(clip_a: Clip, clip_b: Clip) -> SuggestionFields:
    provider = _registry.battle_suggestion
    return provider(clip_a, clip_b) if provider is not None else dict(NO_SUGGESTION)  # type: ignore[return-value]


def system_ratings(scope: str) -> dict[int, SystemRating]:
    provider = _registry.system_ratings
    return provider(scope) if provider is not None else {}


def clip_scores(clip_ids: Sequence[int]) -> dict[int, float]:
    """clip id -> the active reward model's overall score, for the clips it has scored; {} with no model."""
    provider = _registry.clip_scores
    return provider(clip_ids) if provider is not None and clip_ids else {}
