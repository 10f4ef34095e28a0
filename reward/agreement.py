"""Agreement reports: the active reward model's stored scores against the arena's votes, and people against people.

Reads votes, clip scores and leaderboard snapshots from the database, hands plain arrays to the pure statistics of
reward.ml.agreement (model versus people) and scoring.agreement (people versus people), numpy and scipy with no torch,
and stores the figures as an AgreementReport.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max

from arena.models import Battle, Vote
from reward.ml import agreement as stats
from reward.models import AgreementReport, RewardModelVersion
from reward.selectors import (
    AXIS_COLUMNS,
    clip_scores,
    version_active,
    version_score_count,
    version_scores_for_systems,
)
from scoring.agreement import MIN_BOOTSTRAP_ROUNDS, OUTCOMES, pair_votes_normalise, rater_agreement
from scoring.selectors import system_ratings

logger = logging.getLogger(__name__)

SCOPE = "arena"
# Bump when the figures' layout changes, so an unchanged vote set is still recomputed into the new layout.
REPORT_FORMAT = 1
_LOCK_KEY = "scoring:agreement:running"
_LOCK_SECONDS = 30 * 60
# Leaderboard scope whose Bradley-Terry ratings each model axis is compared with.
_RATING_SCOPES = {"overall": "arena", "musicality": "arena:musicality", "prompt_alignment": "arena:prompt_alignment"}


@dataclass(frozen=True)
class VoteRows:
    """The arena's votes as columns, oldest first."""

    vote_id: np.ndarray
    rater: np.ndarray
    prompt: np.ndarray
    system_a: np.ndarray
    system_b: np.ndarray
    clip_a: np.ndarray
    clip_b: np.ndarray
    outcomes: dict[str, np.ndarray]  # model axis -> the vote column for it ("" where the rater left it blank)
    suggestion_shown: np.ndarray
    suggestion_side: np.ndarray


def _vote_rows() -> VoteRows:
    columns = list(AXIS_COLUMNS.values())
    rows = list(
        Vote.objects.filter(battle__mode=Battle.Mode.ARENA)
        .order_by("id")
        .values_list(
            "id", "rater_id", "prompt_id", "system_a_id", "system_b_id", "battle__clip_a_id", "battle__clip_b_id",
            "suggestion_shown", "suggestion_side", *columns,
        )
        .iterator(chunk_size=5000)
    )
    table = list(zip(*rows, strict=True)) if rows else [() for _ in range(9 + len(columns))]

    def column(index: int, dtype: Any = object) -> np.ndarray:
        return np.array(table[index], dtype=dtype)

    return VoteRows(
        vote_id=column(0, np.int64),
        rater=column(1, np.int64),
        prompt=column(2, np.int64),
        system_a=column(3, np.int64),
        system_b=column(4, np.int64),
        clip_a=column(5, np.int64),
        clip_b=column(6, np.int64),
        suggestion_shown=column(7, bool),
        suggestion_side=column(8),
        outcomes={axis: column(9 + i) for i, axis in enumerate(AXIS_COLUMNS)},
    )


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so numpy scalars become plain numbers and nothing unserialisable is stored."""

    def default(item: Any) -> Any:
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, np.ndarray):
            return item.tolist()
        raise TypeError(f"{type(item).__name__} is not JSON serialisable")

    return json.loads(json.dumps(value, default=default, allow_nan=False))


def _rounds() -> int:
    return max(MIN_BOOTSTRAP_ROUNDS, int(settings.EARSHOT_BOOTSTRAP_ROUNDS))


def _system_names(ids: set[int]) -> dict[int, str]:
    from arena.models import System

    return dict(System.objects.filter(id__in=ids).values_list("id", "name"))


def _axis_figures(
    *,
    axis: str,
    version: RewardModelVersion,
    votes: VoteRows,
    scores: dict[int, dict[str, float]],
    names: dict[int, str],
    rounds: int,
) -> dict[str, Any]:
    """Model-versus-people figures, baselines and the people-versus-people ceiling on one axis."""
    outcome = votes.outcomes[axis]
    answered = outcome != ""
    score_a = np.array([scores.get(int(c), {}).get(axis, np.nan) for c in votes.clip_a], dtype=float)
    score_b = np.array([scores.get(int(c), {}).get(axis, np.nan) for c in votes.clip_b], dtype=float)
    scored = np.isfinite(score_a) & np.isfinite(score_b)
    keep = answered & scored
    figures: dict[str, Any] = {
        "axis": axis,
        "n_votes_answered": int(answered.sum()),
        "n_votes_unscored": int((answered & ~scored).sum()),
    }
    p_a = 1.0 / (1.0 + np.exp(-(score_a[keep] - score_b[keep])))
    outcomes = outcome[keep]
    prompts = votes.prompt[keep]
    system_a, system_b = votes.system_a[keep], votes.system_b[keep]
    common = {"p_a": p_a, "outcome": outcomes, "cluster": prompts, "rounds": rounds}
    figures["model"] = stats.model_agreement(**common).as_dict()

    ratings = system_ratings(scope=_RATING_SCOPES[axis])
    rated = all(int(s) in ratings for s in np.concatenate([system_a, system_b]))
    if rated and len(outcomes):
        rating_a = np.array([ratings[int(s)]["rating"] for s in system_a])
        rating_b = np.array([ratings[int(s)]["rating"] for s in system_b])
        baselines = stats.model_baselines(rating_a=rating_a, rating_b=rating_b, **common)
        figures["rating_prior_note"] = (
            f"prior from the current {_RATING_SCOPES[axis]} leaderboard, fitted on these same votes (optimistic)"
        )
    else:
        baselines = stats.model_baselines(**common)
        figures["rating_prior_note"] = f"no {_RATING_SCOPES[axis]} leaderboard rates every system in these votes yet"
    figures["baselines"] = baselines.as_dict()

    by_system = stats.model_agreement_by_group(
        group=[names.get(int(s), str(s)) for s in system_a],
        also_group=[names.get(int(s), str(s)) for s in system_b],
        **common,
    )
    figures["systems"] = {name: report.as_dict() for name, report in by_system.items()}

    # People versus people on every answered vote (scored or not): the ceiling does not need the model.
    items, choices = pair_votes_normalise(
        clip_a=votes.clip_a[answered], clip_b=votes.clip_b[answered], outcome=outcome[answered]
    )
    raters = votes.rater[answered]
    decisive = np.isin(choices, ("a", "b"))
    figures["ceiling"] = rater_agreement(
        item=items[decisive], choice=choices[decisive], rater=raters[decisive], categories=["a", "b"], rounds=rounds
    ).as_dict()
    figures["rater_agreement"] = rater_agreement(
        item=items, choice=choices, rater=raters, categories=list(OUTCOMES), rounds=rounds
    ).as_dict()

    system_scores = version_scores_for_systems(version=version, axis=axis)
    if system_scores:
        system_ids, rewards = zip(*system_scores, strict=True)
        all_names = _system_names(set(system_ids))
        mean_reward = stats.system_mean_reward(system=[all_names[s] for s in system_ids], reward=list(rewards))
        by_name = {all_names[s]: row["rating"] for s, row in ratings.items() if s in all_names}
        figures["mean_reward"] = {name: estimate.as_dict() for name, estimate in mean_reward.items()}
        figures["ratings"] = by_name
        figures["rank_correlation"] = stats.system_rank_correlation(
            reward={name: estimate.value for name, estimate in mean_reward.items() if estimate.value is not None},
            rating=by_name,
        ).as_dict()
    return figures


def _anchoring(votes: VoteRows) -> dict[str, Any]:
    recorded = np.isin(votes.suggestion_side, ("a", "b"))
    outcome = votes.outcomes["overall"]
    figures = stats.anchoring_effect(
        suggestion=votes.suggestion_side[recorded], outcome=outcome[recorded], shown=votes.suggestion_shown[recorded]
    ).as_dict()
    figures["n_with_suggestion"] = int(recorded.sum())
    figures["n_shown"] = int((recorded & votes.suggestion_shown).sum())
    return figures


def agreement_figures(*, version: RewardModelVersion, rounds: int | None = None) -> dict[str, Any]:
    """Every agreement figure of `version` on the arena's current votes (pure reads; nothing is stored)."""
    rounds = rounds or _rounds()
    votes = _vote_rows()
    clip_ids = sorted(set(votes.clip_a.tolist()) | set(votes.clip_b.tolist()))
    scores = clip_scores(clip_ids=clip_ids, version=version)
    names = _system_names(set(votes.system_a.tolist()) | set(votes.system_b.tolist()))
    axes = {
        axis: _axis_figures(axis=axis, version=version, votes=votes, scores=scores, names=names, rounds=rounds)
        for axis in AXIS_COLUMNS
    }
    return _jsonable(
        {
            "format": REPORT_FORMAT,
            "version": version.name,
            "scope": SCOPE,
            "rounds": rounds,
            "vote_count": int(len(votes.vote_id)),
            "last_vote_id": int(votes.vote_id.max()) if len(votes.vote_id) else 0,
            "scored_clips": version_score_count(version=version),
            "scored_clips_voted": len(scores),
            "axes": axes,
            "anchoring": _anchoring(votes),
        }
    )


@contextmanager
def _single_flight() -> Iterator[bool]:
    """True inside when this process holds the agreement recompute; cache.add is atomic on Redis."""
    held = cache.add(_LOCK_KEY, "1", timeout=_LOCK_SECONDS)
    try:
        yield held
    finally:
        if held:
            cache.delete(_LOCK_KEY)


def agreement_recompute(*, version: RewardModelVersion | None = None, force: bool = False) -> AgreementReport | None:
    """Write a fresh AgreementReport for `version` (the active one by default) if votes or scores changed.

    Returns the new report, or None when there is no version, another recompute is running, or nothing changed
    since the last report (same last vote, same number of scored clips, same format).
    """
    version = version or version_active()
    if version is None:
        return None
    with _single_flight() as held:
        if not held:
            logger.info("agreement recompute already running; this request is covered by it or the next one")
            return None
        last = AgreementReport.objects.filter(version=version, scope=SCOPE).order_by("-computed_at", "-id").first()
        last_vote_id = Vote.objects.filter(battle__mode=Battle.Mode.ARENA).aggregate(m=Max("id"))["m"] or 0
        scored = version_score_count(version=version)
        if (
            not force
            and last is not None
            and last.figures.get("format") == REPORT_FORMAT
            and last.figures.get("last_vote_id") == last_vote_id
            and last.figures.get("scored_clips") == scored
        ):
            return None
        figures = agreement_figures(version=version)
        return AgreementReport.objects.create(
            version=version, scope=SCOPE, figures=figures, vote_count=figures["vote_count"]
        )
