"""Leaderboard writes: recompute requests (debounced, on commit), the single-flight claim, and snapshots.

A vote asks for its scopes' recomputes on commit; at most one recompute task per scope waits in the queue (a mark
in the cache), and at most one runs, holding a claim taken with a conditional UPDATE.
"""
from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from celery import Signature
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from arena.models import System
from core.oncommit import broadcast_on_commit, enqueue_once_on_commit, queued_mark_clear, queued_mark_set, task_by_name
from scoring import crowd, projection, ratings
from scoring.models import CROWD_METHOD, METHODS, PLAIN_METHOD, LeaderboardSnapshot, ScopeRecompute
from scoring.scopes import Scope, scope_name_check, scope_parse
from scoring.selectors import (
    BattleRow,
    PairTally,
    RaterPairTally,
    scope_battle_rows,
    scope_pair_tallies,
    scope_rater_pair_tallies,
    snapshot_current,
)

# Bump when the snapshot's contents or maths change, so the next recompute writes a fresh snapshot.
SNAPSHOT_FORMAT = 2
SNAPSHOT_MESSAGE_TYPE = "leaderboard.snapshot"
ELO_K = 4.0


class RecomputeOutcome(enum.StrEnum):
    WRITTEN = "written"
    UNCHANGED = "unchanged"
    BUSY = "busy"


# ---------------------------------------------------------------------------------------------------------------
# Requests, claim and release


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.EARSHOT_RECOMPUTE_STALE_SECONDS)


def recompute_mark(scope: str) -> str:
    """The cache key saying that a recompute of this scope waits in the queue."""
    return f"scoring:recompute:queued:{scope}"


def _mark_hold_seconds() -> float:
    # Long enough to cover the debounce and a busy worker; a lost message frees its scope after this.
    return float(settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS + settings.EARSHOT_RECOMPUTE_STALE_SECONDS)


# Named rather than imported: scoring.tasks imports this module.
RECOMPUTE_TASK = "scoring.tasks.leaderboard_recompute"


def _recompute_job(scope: str) -> Signature:
    return task_by_name(RECOMPUTE_TASK).clone(args=(scope,)).set(countdown=settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS)


def _rows_ensure(scopes: list[str]) -> None:
    ScopeRecompute.objects.bulk_create([ScopeRecompute(scope=scope) for scope in scopes], ignore_conflicts=True)


def leaderboards_request_recompute(*, scopes: list[str], also: Sequence[tuple[str, Signature]] = ()) -> None:
    """On commit, queue one debounced recompute per scope unless one already waits for that scope.

    Call it inside the transaction that writes the votes. It writes nothing to the database (every vote would
    otherwise update the same few rows and queue behind their locks): whether a recompute waits is a mark in the
    cache, set after the commit, and the task clears it before it reads the votes (see enqueue_once_on_commit).
    `also` are other debounced (mark, job) pairs of the same votes, checked in the same round trip to the cache.
    """
    names = sorted(set(scopes))
    for name in names:
        scope_name_check(name)
    enqueue_once_on_commit([*((recompute_mark(name), _recompute_job(name)) for name in names), *also],
                           hold_seconds=_mark_hold_seconds())


def scope_recompute_claim(*, scope: str) -> datetime | None:
    """Take the scope's single-flight claim; the claim time, or None when another recompute holds a live claim."""
    now = timezone.now()
    _rows_ensure([scope])
    claimed = (
        ScopeRecompute.objects.filter(scope=scope)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=_stale_before(now)))
        .update(running_since=now)
    )
    return now if claimed == 1 else None


def scope_recompute_defer(*, scope: str) -> None:
    """The claim is held by another run: try again after the debounce, marked as queued so votes add no more."""
    queued_mark_set(recompute_mark(scope), hold_seconds=_mark_hold_seconds())
    _recompute_job(scope).apply_async()


def scope_recompute_release(*, scope: str, claimed_at: datetime) -> None:
    """Give the claim back. Votes that came in while the run read are covered: each queued its own run."""
    ScopeRecompute.objects.filter(scope=scope, running_since=claimed_at).update(
        running_since=None, finished_at=timezone.now()
    )


def leaderboard_recompute_run(*, scope: str) -> RecomputeOutcome:
    """Recompute one scope under its single-flight claim; BUSY (and retried later) when another run holds it."""
    parsed = scope_parse(scope)
    queued_mark_clear(recompute_mark(parsed.name))  # from now on, a committed vote queues another run
    claimed_at = scope_recompute_claim(scope=parsed.name)
    if claimed_at is None:
        scope_recompute_defer(scope=parsed.name)
        return RecomputeOutcome.BUSY
    try:
        snapshot = snapshot_refresh(scope=parsed)
    finally:
        scope_recompute_release(scope=parsed.name, claimed_at=claimed_at)
    return RecomputeOutcome.UNCHANGED if snapshot is None else RecomputeOutcome.WRITTEN


# ---------------------------------------------------------------------------------------------------------------
# Snapshots


@dataclass(frozen=True)
class SnapshotData:
    """A computed leaderboard not yet stored: what LeaderboardSnapshot holds."""

    scope: str
    rows: list[dict[str, Any]]
    win_rate: dict[str, Any]
    extra: dict[str, Any]
    vote_count: int
    last_vote_id: int
    digest: str
    method: str = PLAIN_METHOD


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _digest(tallies: list[PairTally], systems: dict[int, System]) -> str:
    """Fingerprint of everything a snapshot depends on: unchanged fingerprint, unchanged leaderboard."""
    basis = {
        "format": SNAPSHOT_FORMAT,
        "tallies": [
            [t.system_a, t.system_b, t.wins_a, t.wins_b, t.ties, t.both_bad, t.last_vote_id] for t in tallies
        ],
        "systems": [[pk, systems[pk].name, systems[pk].slug] for pk in sorted(systems)],
        "settings": [
            settings.EARSHOT_LEADERBOARD_MIN_VOTES,
            settings.EARSHOT_LEADERBOARD_PRELIMINARY_VOTES,
            settings.EARSHOT_BOOTSTRAP_ROUNDS,
            settings.EARSHOT_SEPARATION_BUDGET_VOTES,
        ],
    }
    return hashlib.sha256(json.dumps(basis, separators=(",", ":")).encode()).hexdigest()


def _online_elo(battles: list[BattleRow], index: dict[int, int]) -> np.ndarray:
    return ratings.online_elo(
        sys_a=[index[b.system_a] for b in battles],
        sys_b=[index[b.system_b] for b in battles],
        outcome=ratings.outcome_codes(b.outcome for b in battles),
        n_systems=len(index),
        k=ELO_K,
    )


def _controlled(battles: list[BattleRow], index: dict[int, int]) -> tuple[ratings.CovariateFit | None, dict]:
    """Ratings controlled for loudness and duration differences; covariates that never vary are left out."""
    covariates = {
        "loudness_diff": np.array([b.loudness_a - b.loudness_b for b in battles], dtype=np.float64),
        "duration_diff": np.array([b.duration_a - b.duration_b for b in battles], dtype=np.float64),
    }
    varying = {name: values for name, values in covariates.items() if values.size and np.ptp(values) > 0}
    try:
        fit = ratings.bt_covariate_fit(
            sys_a=[index[b.system_a] for b in battles],
            sys_b=[index[b.system_b] for b in battles],
            outcome=ratings.outcome_codes(b.outcome for b in battles),
            covariates=varying,
            n_systems=len(index),
            prior=ratings.DEFAULT_LEADERBOARD_PRIOR,
        )
    except ValueError as exc:
        # Too few decided votes or collinear covariates: the leaderboard still stands without this column.
        return None, {"covariates": sorted(varying), "error": str(exc)}
    effects = {
        name: {"elo_per_unit": _round(fit.coef_elo[name]), "se_logit": _round(fit.coef_se[name], 4)}
        for name in fit.names
    }
    return fit, {"covariates": sorted(varying), "effects": effects, "rows": fit.rows}


def snapshot_compute(*, scope: Scope, with_battle_rows: bool = True) -> SnapshotData:
    """The scope's leaderboard from its votes now: Bradley–Terry with bootstrap intervals, online Elo, matrices.

    Pair counts come from one GROUP BY; the vote-by-vote query behind online Elo and the loudness/duration
    controlled ratings is the second, optional one.
    """
    tallies = scope_pair_tallies(scope=scope)
    systems = _systems_of(tallies)
    return _snapshot_from(scope, tallies, systems, _digest(tallies, systems), with_battle_rows=with_battle_rows)


def snapshot_of_tallies(*, scope: Scope, tallies: list[PairTally]) -> SnapshotData:
    """The board these pair tallies make, computed exactly as a recompute of a scope with those votes computes its
    Bradley–Terry ratings, intervals and ranks (same digest, same bootstrap seed); without the vote-by-vote columns
    (online Elo, controlled ratings). Exports publish it beside their rows."""
    systems = _systems_of(tallies)
    return _snapshot_from(scope, tallies, systems, _digest(tallies, systems), with_battle_rows=False)


def _systems_of(tallies: list[PairTally]) -> dict[int, System]:
    return System.objects.in_bulk(sorted({t.system_a for t in tallies} | {t.system_b for t in tallies}))


def _snapshot_from(
    scope: Scope, tallies: list[PairTally], systems: dict[int, System], digest: str, *, with_battle_rows: bool
) -> SnapshotData:
    """The leaderboard of these pair tallies: the systems with enough votes ranked, the others listed as hidden."""
    system_ids = sorted(systems)
    index = {pk: i for i, pk in enumerate(system_ids)}
    configured = _method_of_settings()
    if not system_ids:
        return SnapshotData(scope=scope.name, rows=[], win_rate={"systems": [], "win_rate": [], "battles": []},
                            extra={"method": configured, "hidden": [], "label": scope.label},
                            vote_count=0, last_vote_id=0, digest=digest)

    counts = _pair_counts(tallies, index)
    # Same votes, same seed: a recompute of unchanged votes reproduces the intervals exactly.
    board = ratings.leaderboard(counts, rounds=configured["rounds"], seed=int(digest[:15], 16))
    shown = np.flatnonzero(board.rated & (board.n >= configured["min_votes"]))
    elo, controlled_fit, controlled = _vote_order_ratings(scope, index, with_battle_rows=with_battle_rows)
    rows = _board_rows(board, shown, system_ids, systems, elo=elo, controlled_fit=controlled_fit,
                       preliminary_votes=configured["preliminary_votes"])
    # Without bootstrap rounds the shown intervals collapse to the ratings: the Fisher widths stand in for them.
    _separations_add(rows, index, rating=board.rating, information=_plain_information(board, counts),
                     votes=_decided_votes(counts), widths_shown=configured["rounds"] > 0)
    extra = {
        "label": scope.label,
        "method": {**configured, **board.method, "rounds": configured["rounds"]},
        "groups": board.groups,
        "hidden": _hidden_systems(board, shown, system_ids, systems),
        "controlled": controlled,
    }
    return SnapshotData(scope=scope.name, rows=rows, win_rate=_win_rate_grid(board, rows, index), extra=extra,
                        vote_count=counts.total, last_vote_id=max((t.last_vote_id for t in tallies), default=0),
                        digest=digest)


def _decided_votes(counts: ratings.PairCounts) -> int:
    """Votes the fit counts (both-bad left out): the n that the projection's (n + m) / n scales."""
    return int(counts.wins.sum() + np.triu(counts.ties).sum())


def _plain_information(board: ratings.Leaderboard, counts: ratings.PairCounts) -> np.ndarray:
    """Fisher information of the plain fit's log-strengths at its estimate, among the rated systems (others: 0)."""
    rated = np.flatnonzero(board.rated)
    information = np.zeros((counts.n, counts.n))
    if rated.size:
        theta = (board.rating[rated] - ratings.ELO_INITIAL) / ratings.ELO_PER_LOGIT
        decided = (counts.wins + counts.wins.T + counts.ties)[np.ix_(rated, rated)]
        information[np.ix_(rated, rated)] = projection.bt_information(theta, decided)
    return information


def _separations_add(
    rows: list[dict[str, Any]], index: dict[int, int], *, rating: np.ndarray, information: np.ndarray, votes: int,
    widths_shown: bool,
) -> None:
    """Give each row the further votes until its interval and the next row's separate (the last row: null).

    With widths_shown the rows' own intervals say whether a pair is separated now and set today's widths, which
    then shrink as the Fisher widths do; without, the Fisher (Wald) intervals stand for them."""
    for row in rows:
        row["votes_to_separate"], row["separation"] = None, None
    if len(rows) < 2 or votes < 1:
        return
    rated = np.flatnonzero(np.isfinite(rating))
    local = {int(i): k for k, i in enumerate(rated)}
    pairs = [(local[index[upper["system_id"]]], local[index[lower["system_id"]]])
             for upper, lower in zip(rows, rows[1:], strict=False)]
    shown = [(upper["rating"] - upper["ci_low"]) + (lower["ci_high"] - lower["rating"])
             for upper, lower in zip(rows, rows[1:], strict=False)] if widths_shown else None
    found = projection.votes_to_separate(
        rating=np.round(rating[rated], 2), information=information[np.ix_(rated, rated)], pairs=pairs,
        votes=votes, prior=ratings.DEFAULT_LEADERBOARD_PRIOR, budget=settings.EARSHOT_SEPARATION_BUDGET_VOTES,
        shown_width=shown,
    )
    for row, separation in zip(rows, found, strict=False):
        row["votes_to_separate"], row["separation"] = separation.votes, separation.status.value


def _method_of_settings() -> dict[str, Any]:
    """How the snapshot is computed, as far as the settings say (the rating model adds its own figures)."""
    return {
        "model": "bradley_terry",
        "rounds": settings.EARSHOT_BOOTSTRAP_ROUNDS,
        "min_votes": settings.EARSHOT_LEADERBOARD_MIN_VOTES,
        "preliminary_votes": settings.EARSHOT_LEADERBOARD_PRELIMINARY_VOTES,
        "elo_k": ELO_K,
    }


def _pair_counts(tallies: list[PairTally], index: dict[int, int]) -> ratings.PairCounts:
    return ratings.PairCounts.from_grouped(
        sys_a=[index[t.system_a] for t in tallies],
        sys_b=[index[t.system_b] for t in tallies],
        wins_a=[t.wins_a for t in tallies],
        wins_b=[t.wins_b for t in tallies],
        ties=[t.ties for t in tallies],
        both_bad=[t.both_bad for t in tallies],
        n_systems=len(index),
    )


def _vote_order_ratings(
    scope: Scope, index: dict[int, int], *, with_battle_rows: bool
) -> tuple[np.ndarray, ratings.CovariateFit | None, dict[str, Any]]:
    """Online Elo and the loudness/duration controlled fit, which need the votes one by one (the second query);
    without them, no Elo and a controlled fit marked as not computed."""
    if not with_battle_rows:
        return np.full(len(index), np.nan), None, {"error": "not computed"}
    battles = scope_battle_rows(scope=scope)
    elo = _online_elo(battles, index)
    controlled_fit, controlled = _controlled(battles, index)
    return elo, controlled_fit, controlled


def _board_rows(
    board: ratings.Leaderboard,
    shown: np.ndarray,
    system_ids: list[int],
    systems: dict[int, System],
    *,
    elo: np.ndarray,
    controlled_fit: ratings.CovariateFit | None,
    preliminary_votes: int,
) -> list[dict[str, Any]]:
    """One row per shown system, best first; ranks count only the systems shown, so a hidden one leaves no gap."""
    shown_rank = ratings.ranks_from_intervals(board.ci_low[shown], board.ci_high[shown])
    rows: list[dict[str, Any]] = []
    for position, i in enumerate(shown.tolist()):
        pk = system_ids[i]
        rows.append(
            {
                "system_id": pk,
                "name": systems[pk].name,
                "slug": systems[pk].slug,
                "rating": _round(board.rating[i]),
                "ci_low": _round(board.ci_low[i]),
                "ci_high": _round(board.ci_high[i]),
                "rank": int(shown_rank[position]),
                "wins": int(board.wins[i]),
                "losses": int(board.losses[i]),
                "ties": int(board.ties[i]),
                "both_bad": int(board.both_bad[i]),
                "n": int(board.n[i]),
                "win_rate": _round(board.win_rate[i], 4),
                "elo": _round(elo[i]),
                "controlled_rating": _round(controlled_fit.rating[i]) if controlled_fit else None,
                "controlled_se": _round(controlled_fit.rating_se[i]) if controlled_fit else None,
                "preliminary": int(board.n[i]) < preliminary_votes,
                "votes_to_separate": None,
                "separation": None,
            }
        )
    rows.sort(key=lambda row: (row["rank"], -row["rating"], row["name"]))
    return rows


def _hidden_systems(
    board: ratings.Leaderboard, shown: np.ndarray, system_ids: list[int], systems: dict[int, System]
) -> list[dict[str, Any]]:
    """The systems left off the board (too few votes, or not rated), with their vote counts."""
    shown_set = set(shown.tolist())
    return [
        {"system_id": pk, "name": systems[pk].name, "n": int(board.n[i])}
        for i, pk in enumerate(system_ids)
        if i not in shown_set
    ]


def _win_rate_grid(board: ratings.Leaderboard, rows: list[dict[str, Any]], index: dict[int, int]) -> dict[str, Any]:
    """Pairwise win rates and battle counts among the shown systems, in row order."""
    order = [index[row["system_id"]] for row in rows]
    grid = np.ix_(order, order)
    return {
        "systems": [row["system_id"] for row in rows],
        "win_rate": [[_round(x, 4) for x in line] for line in board.win_rate_matrix[grid]],
        "battles": board.battle_matrix[grid].tolist(),
    }


def snapshot_store(*, data: SnapshotData) -> LeaderboardSnapshot:
    """Write the snapshot (the scope's history keeps the older ones) and push it to the scope's group on commit."""
    from scoring.serializers import snapshot_payload

    with transaction.atomic():
        snapshot = LeaderboardSnapshot.objects.create(
            scope=data.scope,
            method=data.method,
            rows=data.rows,
            win_rate=data.win_rate,
            extra=data.extra,
            digest=data.digest,
            vote_count=data.vote_count,
            last_vote_id=data.last_vote_id,
        )
        # The live page shows the plain board; the weighted one is read through the API.
        if data.method == PLAIN_METHOD:
            broadcast_on_commit(scope_parse(data.scope).group, SNAPSHOT_MESSAGE_TYPE, snapshot_payload(snapshot))
    return snapshot


def snapshot_refresh(*, scope: Scope) -> LeaderboardSnapshot | None:
    """Recompute and store the scope's leaderboard (and its weighted one where the scope asks for it); None when
    its votes are unchanged since the current snapshots."""
    tallies = scope_pair_tallies(scope=scope)
    systems = _systems_of(tallies)
    digest = _digest(tallies, systems)
    current = snapshot_current(scope=scope.name)
    written = None
    if current is None or current.digest != digest:
        written = snapshot_store(data=_snapshot_from(scope, tallies, systems, digest, with_battle_rows=True))
    if scope.reliability_weighted:
        weighted = weighted_snapshot_refresh(scope=scope, plain=written or current)
        written = written or weighted
    return written


# ---------------------------------------------------------------------------------------------------------------
# Reliability-weighted (Crowd-BT) boards


def _weighted_digest(tallies: list[RaterPairTally], plain_digest: str) -> str:
    basis = {
        "plain": plain_digest,
        "tallies": [[t.rater, t.system_a, t.system_b, t.wins_a, t.wins_b, t.ties, t.last_vote_id] for t in tallies],
        "prior": list(crowd.CROWD_ETA_PRIOR),
    }
    return hashlib.sha256(json.dumps(basis, separators=(",", ":")).encode()).hexdigest()


def weighted_snapshot_compute(*, scope: Scope, plain: LeaderboardSnapshot | None = None) -> SnapshotData:
    """The scope's Crowd-BT board: every shown system of the plain board re-rated with each rater's votes counted
    by the rater's fitted reliability; the raters' etas go in extra["raters"] (rater id -> eta, se, votes)."""
    plain = plain or snapshot_current(scope=scope.name)
    tallies = scope_rater_pair_tallies(scope=scope)
    return _weighted_from(scope, plain, tallies, _weighted_digest(tallies, plain.digest if plain else ""))


def _weighted_from(
    scope: Scope, plain: LeaderboardSnapshot | None, tallies: list[RaterPairTally], digest: str
) -> SnapshotData:
    if plain is None or not tallies or not plain.rows:
        return SnapshotData(scope=scope.name, rows=[], win_rate={"systems": [], "win_rate": [], "battles": []},
                            extra={"label": scope.label, "method": {"model": CROWD_METHOD}, "raters": {},
                                   "hidden": plain.extra.get("hidden", []) if plain else []},
                            vote_count=plain.vote_count if plain else 0, last_vote_id=0, digest=digest,
                            method=CROWD_METHOD)
    base_rows = list(plain.rows)
    extra: dict[str, Any] = {"label": scope.label, "hidden": plain.extra.get("hidden", [])}
    system_ids = sorted({t.system_a for t in tallies} | {t.system_b for t in tallies})
    rater_ids = sorted({t.rater for t in tallies})
    index = {pk: i for i, pk in enumerate(system_ids)}
    rater_index = {pk: i for i, pk in enumerate(rater_ids)}
    fit = crowd.crowd_bt_fit(
        rater=[rater_index[t.rater] for t in tallies], sys_a=[index[t.system_a] for t in tallies],
        sys_b=[index[t.system_b] for t in tallies], wins_a=[t.wins_a for t in tallies],
        wins_b=[t.wins_b for t in tallies], ties=[t.ties for t in tallies], n_systems=len(system_ids),
        n_raters=len(rater_ids), prior=ratings.DEFAULT_LEADERBOARD_PRIOR,
    )
    rows = []
    for base in base_rows:
        i = index.get(base["system_id"])
        if i is None or not fit.rated[i]:
            continue
        rows.append({**base, "rating": _round(fit.rating[i]), "ci_low": _round(fit.ci_low[i]),
                     "ci_high": _round(fit.ci_high[i]), "elo": None, "controlled_rating": None,
                     "controlled_se": None})
    ranks = ratings.ranks_from_intervals([r["ci_low"] for r in rows], [r["ci_high"] for r in rows])
    for row, rank in zip(rows, ranks.tolist(), strict=True):
        row["rank"] = int(rank)
    rows.sort(key=lambda row: (row["rank"], -row["rating"], row["name"]))
    decided = int(sum(t.wins_a + t.wins_b + t.ties for t in tallies))
    _separations_add(rows, index, rating=fit.rating, information=fit.information, votes=decided, widths_shown=True)
    extra["raters"] = {
        str(pk): {"eta": _round(fit.eta[k], 4), "eta_se": _round(fit.eta_se[k], 4),
                  "votes": _round(fit.rater_votes[k], 1)}
        for pk, k in rater_index.items()
    }
    extra["method"] = {**fit.method, "iterations": fit.iterations}
    return SnapshotData(scope=scope.name, rows=rows, win_rate=plain.win_rate, extra=extra,
                        vote_count=plain.vote_count, last_vote_id=max(t.last_vote_id for t in tallies),
                        digest=digest, method=CROWD_METHOD)


def weighted_snapshot_refresh(*, scope: Scope, plain: LeaderboardSnapshot | None) -> LeaderboardSnapshot | None:
    """Recompute and store the scope's weighted board; None when nothing it depends on changed."""
    tallies = scope_rater_pair_tallies(scope=scope)
    digest = _weighted_digest(tallies, plain.digest if plain else "")
    current = snapshot_current(scope=scope.name, method=CROWD_METHOD)
    if current is not None and current.digest == digest:
        return None
    return snapshot_store(data=_weighted_from(scope, plain, tallies, digest))


def snapshots_prune(*, scope: str, keep: int) -> int:
    """Delete the scope's snapshots beyond the newest `keep` of each method (plain, weighted); how many were
    deleted."""
    deleted = 0
    for method in METHODS:
        of_method = LeaderboardSnapshot.objects.filter(scope=scope, method=method)
        boundary = of_method.order_by("-computed_at", "-id").values("computed_at", "id")[keep - 1 : keep].first()
        if boundary is None:
            continue
        older = Q(computed_at__lt=boundary["computed_at"]) | Q(computed_at=boundary["computed_at"],
                                                              id__lt=boundary["id"])
        count, _ = of_method.filter(older).delete()
        deleted += count
    return deleted
