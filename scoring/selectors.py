"""Reads of scoring data: vote tallies per scope, current leaderboards and their history, ratings for the reveal."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet

from arena.models import Choice, Rater, Vote
from core.memo import process_memo
from scoring.models import CROWD_METHOD, PLAIN_METHOD, LeaderboardSnapshot
from scoring.scopes import Scope, scopes_all


@dataclass(frozen=True)
class PairTally:
    """Votes between two systems in one scope, as (system_a, system_b) were shown: one row of the GROUP BY."""

    system_a: int
    system_b: int
    wins_a: int
    wins_b: int
    ties: int
    both_bad: int
    last_vote_id: int


@dataclass(frozen=True)
class RaterPairTally:
    """Votes of one rater between two systems in one scope, as (system_a, system_b) were shown (Crowd-BT's input;
    both-bad votes are left out, as the plain board's fit leaves them out)."""

    rater: int
    system_a: int
    system_b: int
    wins_a: int
    wins_b: int
    ties: int
    last_vote_id: int


@dataclass(frozen=True)
class BattleRow:
    """One vote of a scope with what the listener heard: delivery loudness (LUFS) and duration (s) of each clip."""

    system_a: int
    system_b: int
    outcome: str
    loudness_a: float
    loudness_b: float
    duration_a: float
    duration_b: float


def scope_votes_counted(*, scope: Scope) -> QuerySet[Vote]:
    """The scope's votes that leaderboards count: those of raters an admin left out of the boards are not
    (NOT IN a small subquery on a partial index, rather than a join of every vote with its rater)."""
    excluded = Rater.objects.filter(excluded_from_boards=True).values("pk")
    return Vote.objects.filter(scope.votes_filter).exclude(rater__in=excluded)


def scope_pair_tallies(*, scope: Scope) -> list[PairTally]:
    """The scope's counted votes aggregated in one GROUP BY (system_a, system_b) with a conditional count per
    outcome."""
    column = scope.column
    counted = (
        scope_votes_counted(scope=scope)
        .filter(**{f"{column}__in": [choice.value for choice in Choice]})
        .values("system_a", "system_b")
        .annotate(
            wins_a=Count("id", filter=Q(**{column: Choice.A})),
            wins_b=Count("id", filter=Q(**{column: Choice.B})),
            ties=Count("id", filter=Q(**{column: Choice.TIE})),
            both_bad=Count("id", filter=Q(**{column: Choice.BOTH_BAD})),
            last_vote_id=Max("id"),
        )
        .order_by("system_a", "system_b")
    )
    return [PairTally(**row) for row in counted]


def scope_rater_pair_tallies(*, scope: Scope) -> list[RaterPairTally]:
    """The scope's counted decided votes in one GROUP BY (rater, system_a, system_b)."""
    column = scope.column
    counted = (
        scope_votes_counted(scope=scope)
        .filter(**{f"{column}__in": [Choice.A, Choice.B, Choice.TIE]})
        .values("rater", "system_a", "system_b")
        .annotate(
            wins_a=Count("id", filter=Q(**{column: Choice.A})),
            wins_b=Count("id", filter=Q(**{column: Choice.B})),
            ties=Count("id", filter=Q(**{column: Choice.TIE})),
            last_vote_id=Max("id"),
        )
        .order_by("rater", "system_a", "system_b")
    )
    return [RaterPairTally(**row) for row in counted]


def scope_battle_rows(*, scope: Scope) -> list[BattleRow]:
    """The scope's counted votes one by one in the order they were cast (for online Elo and covariate-controlled
    ratings)."""
    column = scope.column
    rows = (
        scope_votes_counted(scope=scope)
        .filter(**{f"{column}__in": [choice.value for choice in Choice]})
        .order_by("id")
        .values_list(
            "system_a",
            "system_b",
            column,
            F("battle__clip_a__delivery_lufs"),
            F("battle__clip_b__delivery_lufs"),
            F("battle__clip_a__duration_s"),
            F("battle__clip_b__duration_s"),
        )
    )
    return [BattleRow(*row) for row in rows.iterator(chunk_size=5000)]


def snapshot_current(*, scope: str, method: str = PLAIN_METHOD) -> LeaderboardSnapshot | None:
    """The scope's newest snapshot of this method (the plain board unless asked for the weighted one)."""
    return LeaderboardSnapshot.objects.filter(scope=scope, method=method).order_by("-computed_at", "-id").first()


def snapshot_current_version(*, scope: str, method: str = PLAIN_METHOD) -> str:
    """Names the scope's current snapshot (id and time, "none" before the first): what its cached reads are keyed
    by. The time is part of it because a rolled-back test database can hand out the same id again."""
    current = (
        LeaderboardSnapshot.objects.filter(scope=scope, method=method).order_by("-computed_at", "-id")
        .values_list("id", "computed_at").first()
    )
    return "none" if current is None else f"{current[0]}@{current[1].timestamp():.6f}"


def snapshot_history(*, scope: str, limit: int, method: str = PLAIN_METHOD) -> list[LeaderboardSnapshot]:
    """The scope's latest `limit` snapshots, oldest first (the ratings-over-time plot reads them in order); only
    what the plot shows is read, not each snapshot's matrices."""
    newest = (
        LeaderboardSnapshot.objects.filter(scope=scope, method=method).order_by("-computed_at", "-id")
        .only("id", "scope", "computed_at", "vote_count", "rows")[:limit]
    )
    return list(reversed(newest))


def weighted_board_exists(*, scope: Scope) -> bool:
    """Whether the scope has a reliability-weighted board: it asks for one, or one was written for it."""
    return scope.reliability_weighted or LeaderboardSnapshot.objects.filter(
        scope=scope.name, method=CROWD_METHOD).exists()


def leaderboards_summary() -> list[dict[str, Any]]:
    """Every scope with its label, and the vote count and time of its current snapshot (0 / None before one)."""
    latest_ids = (
        LeaderboardSnapshot.objects.filter(method=PLAIN_METHOD).values("scope").annotate(last_id=Max("id"))
        .values_list("last_id")
    )
    current = {
        snapshot.scope: snapshot
        for snapshot in LeaderboardSnapshot.objects.filter(id__in=latest_ids).only("scope", "vote_count",
                                                                                   "computed_at")
    }
    return [
        {
            "scope": scope.name,
            "label": scope.label,
            "vote_count": current[scope.name].vote_count if scope.name in current else 0,
            "computed_at": current[scope.name].computed_at if scope.name in current else None,
        }
        for scope in scopes_all()
    ]


def leaderboard_detail(*, scope: Scope, history: int, method: str = PLAIN_METHOD) -> dict[str, Any]:
    """The scope's current snapshot of `method` and, for the ratings-over-time plot, its latest `history` ones."""
    points = [
        {
            "computed_at": snapshot.computed_at,
            "vote_count": snapshot.vote_count,
            "ratings": [
                {key: row[key] for key in ("system_id", "name", "rating", "ci_low", "ci_high")}
                for row in snapshot.rows
            ],
        }
        for snapshot in (snapshot_history(scope=scope.name, limit=history, method=method) if history else [])
    ]
    return {"scope": scope.name, "label": scope.label, "snapshot": snapshot_current(scope=scope.name, method=method),
            "history": points}


def system_ratings(*, scope: str = "arena") -> dict[int, dict[str, float]]:
    """system id → {rating, ci_low, ci_high} from the scope's current snapshot (empty before the first one).

    Every vote's reveal reads it, so each process keeps it for EARSHOT_REVEAL_RATINGS_CACHE_SECONDS (snapshots
    are themselves debounced by a few seconds) and reads only the snapshot's rows, not its win-rate matrix.
    """

    def read() -> dict[int, dict[str, float]]:
        rows = (
            LeaderboardSnapshot.objects.filter(scope=scope, method=PLAIN_METHOD).order_by("-computed_at", "-id")
            .values_list("rows", flat=True).first()
        )
        return {
            int(row["system_id"]): {key: float(row[key]) for key in ("rating", "ci_low", "ci_high")}
            for row in rows or []
        }

    return process_memo(f"scoring:ratings:{scope}", read, seconds=settings.EARSHOT_REVEAL_RATINGS_CACHE_SECONDS)
