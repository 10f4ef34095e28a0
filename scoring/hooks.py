"""The scoring app's answers to the arena's hooks (registered from ScoringConfig.ready()), and the jobs that
apps above scoring queue with each vote's recompute request."""
from __future__ import annotations

from collections.abc import Callable

from celery import Signature

from arena import hooks as arena_hooks
from arena.hooks import SystemRating
from arena.models import Vote
from core.oncommit import enqueue_on_commit, task_by_name
from scoring.scopes import vote_scopes
from scoring.selectors import system_ratings
from scoring.services import leaderboards_request_recompute

# (mark, job) factories other apps add: checked in the same round trip to the cache as the boards' own marks.
VoteCompanion = Callable[[], tuple[str, Signature]]
_vote_companions: dict[str, VoteCompanion] = {}


def add_vote_companion(factory: VoteCompanion) -> None:
    """Queue the (mark, job) that `factory` returns, debounced, with every vote's recompute request."""
    _vote_companions[f"{factory.__module__}.{factory.__qualname__}"] = factory


def _vote_recorded(vote: Vote) -> None:
    leaderboards_request_recompute(
        scopes=vote_scopes(vote), also=[factory() for factory in _vote_companions.values()]
    )


def _raters_exclusion_changed() -> None:
    # The boards' pair counts are rebuilt from the votes: a full recompute, once the change is committed.
    enqueue_on_commit(task_by_name("scoring.tasks.leaderboards_recompute_all"))


def _system_ratings(scope: str) -> dict[int, SystemRating]:
    return system_ratings(scope=scope)  # type: ignore[return-value]


def register() -> None:
    arena_hooks.on_vote_recorded(_vote_recorded)
    arena_hooks.on_raters_exclusion_changed(_raters_exclusion_changed)
    arena_hooks.provide_system_ratings(_system_ratings)
