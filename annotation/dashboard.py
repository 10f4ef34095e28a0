"""Reads of a campaign's dashboard: progress, time per vote, the rater table, the campaign's boards per axis and how
well its raters agree with each other on the pairs they share (DESIGN.md, "Agreement statistics").

Agreement counts a campaign's regular pairs as items and each vote as one nominal label among a / b / tie / both_bad,
with the pair in its own fixed order (a battle may show it either way round). A tie and a both-bad are labels of
their own: two raters agree only when they give the same one. Only the votes the boards count are used (regular
items, raters not left out), and only pairs with two or more of them; leave-one-out majority needs three.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, QuerySet, Sum
from django.utils import timezone

from annotation.assignment import board_votes_filter
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater
from arena.models import Vote
from core.axes import AXES, Axis
from core.cache import cache_get_quietly, cache_set_quietly
from scoring.agreement import OUTCOMES, RaterAgreement, rater_agreement_from_counts
from scoring.models import LeaderboardSnapshot

# The Crowd-BT fit of a campaign scope is a snapshot of its own beside the plain Bradley–Terry one.
CROWD_BT_METHOD = "crowd_bt"
# Each agreement interval resamples pairs this many times (scoring.agreement's minimum): the page refetches on
# every push, and the interval's width barely moves past it.
AGREEMENT_ROUNDS = 1000
AGREEMENT_SEED = 0
# The figures depend only on the votes behind them (see _agreement_key); the time only bounds the memory.
AGREEMENT_CACHE_SECONDS = 600
BOARD_ROW_FIELDS = ("system_id", "name", "slug", "rating", "ci_low", "ci_high", "rank", "n", "preliminary")
# Filled in by the projection of votes still needed; absent from snapshots written before it.
BOARD_PROJECTION_FIELDS = ("votes_to_separate", "separation")
SHORT_ID = 8


@dataclass(frozen=True)
class CampaignAxis:
    axis: Axis
    scope: str


def campaign_axes(campaign: Campaign) -> list[CampaignAxis]:
    """The axes the campaign asks, in the product's order, each with its board's scope ("campaign:<slug>[:<axis>]")."""
    asked = {str(value) for value in campaign.axes} | {Axis.OVERALL.value}
    return [
        CampaignAxis(axis, campaign.scope if axis is Axis.OVERALL else f"{campaign.scope}:{axis.value}")
        for axis in AXES
        if axis.value in asked
    ]


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> dict[str, Any]:
    """Regular pairs complete of all, finished regular votes of those wanted (k per pair), raters and live leases."""
    now = now or timezone.now()
    pairs = CampaignPair.objects.filter(campaign=campaign, kind=CampaignPair.Kind.REGULAR).aggregate(
        total=Count("id"),
        complete=Count("id", filter=Q(votes_done__gte=F("overlap"))),
        votes_done=Sum("votes_done"),
        votes_wanted=Sum("overlap"),
    )
    members = CampaignRater.objects.filter(campaign=campaign).aggregate(
        raters=Count("id"),
        completed=Count("id", filter=Q(completed_at__isnull=False)),
        excluded=Count("id", filter=Q(excluded=True)),
        gold_answered=Sum("gold_answered"),
        skips=Sum("skips"),
    )
    leases = Assignment.objects.filter(
        pair__campaign=campaign, status=Assignment.Status.LEASED, expires_at__gt=now
    ).count()
    return {
        "pairs_total": pairs["total"],
        "pairs_complete": pairs["complete"],
        "votes_done": pairs["votes_done"] or 0,
        "votes_wanted": pairs["votes_wanted"] or 0,
        "raters": members["raters"],
        "raters_completed": members["completed"],
        "raters_excluded": members["excluded"],
        "gold_answered": members["gold_answered"] or 0,
        "skips": members["skips"] or 0,
        "live_leases": leases,
    }


def campaign_vote_times(*, campaign: Campaign) -> dict[str, Any]:
    """Median seconds per regular vote, two ways: measured on the server (the vote's arrival minus the opening of
    its battle, so the listening is included) and as the page reported it (decision_ms: from the moment voting was
    allowed to the click)."""
    rows = (
        Vote.objects.filter(
            battle__campaign_assignment__pair__campaign=campaign,
            battle__campaign_assignment__kind=CampaignPair.Kind.REGULAR,
        )
        .annotate(took=ExpressionWrapper(F("created_at") - F("battle__created_at"), output_field=DurationField()))
        .values_list("took", "decision_ms")
    )
    took: list[float] = []
    decided: list[float] = []
    for duration, decision_ms in rows.iterator(chunk_size=5000):
        took.append(duration.total_seconds() if isinstance(duration, timedelta) else float(duration))
        decided.append(decision_ms / 1000)
    return {
        "votes": len(took),
        "median_seconds": statistics.median(took) if took else None,
        "median_decision_seconds": statistics.median(decided) if decided else None,
    }


def crowd_bt_snapshot(*, campaign: Campaign) -> LeaderboardSnapshot | None:
    """The campaign's latest reliability-weighted (Crowd-BT) snapshot, or None before the first one."""
    return (
        LeaderboardSnapshot.objects.filter(scope=campaign.scope, method=CROWD_BT_METHOD)
        .order_by("-computed_at", "-id")
        .only("id", "computed_at", "extra")
        .first()
    )


def _reliability(snapshot: LeaderboardSnapshot | None, rater_id: int) -> float | None:
    """The rater's eta from a Crowd-BT snapshot's extra["raters"], read defensively (None when absent or odd)."""
    if snapshot is None or not isinstance(snapshot.extra, dict):
        return None
    raters = snapshot.extra.get("raters")
    entry = raters.get(str(rater_id)) if isinstance(raters, dict) else None
    eta = entry.get("eta") if isinstance(entry, dict) else None
    return float(eta) if isinstance(eta, int | float) and not isinstance(eta, bool) else None


def campaign_raters(*, campaign: Campaign, crowd: LeaderboardSnapshot | None) -> list[dict[str, Any]]:
    """One row per campaign rater, in joining order: counters, gold accuracy, flags, standing, reliability."""
    members = CampaignRater.objects.filter(campaign=campaign).select_related("rater").order_by("joined_at", "id")
    return [
        {
            "member_id": member.pk,
            "label": member.crowd_id or str(member.rater.public_id)[:SHORT_ID],
            "crowd_id": member.crowd_id,
            "rater_id": str(member.rater.public_id),
            "votes": member.votes,
            "skips": member.skips,
            "gold_answered": member.gold_answered,
            "gold_correct": member.gold_correct,
            "gold_accuracy": member.gold_accuracy,
            "fast_decisions": member.fast_decisions,
            "flags": [str(flag) for flag in member.flags] if isinstance(member.flags, list) else [],
            "override": member.override,
            "excluded": member.excluded,
            "completed": member.completed_at is not None,
            "reliability": _reliability(crowd, member.rater_id),
        }
        for member in members
    ]


def _board_snapshot(scope: str) -> LeaderboardSnapshot | None:
    """The scope's current plain board (the Crowd-BT snapshot of the same scope is not a board row source)."""
    return (
        LeaderboardSnapshot.objects.filter(scope=scope).exclude(method=CROWD_BT_METHOD)
        .order_by("-computed_at", "-id")
        .only("id", "scope", "computed_at", "vote_count", "rows")
        .first()
    )


def campaign_boards(*, campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign's board per axis, from the scoring engine's current snapshot of each scope (None before one)."""
    boards = []
    for entry in campaign_axes(campaign):
        snapshot = _board_snapshot(entry.scope)
        rows = []
        for row in snapshot.rows if snapshot is not None else []:
            shown = {key: row.get(key) for key in BOARD_ROW_FIELDS}
            shown.update({key: row.get(key) for key in BOARD_PROJECTION_FIELDS})
            rows.append(shown)
        boards.append({
            "axis": entry.axis.value,
            "label": entry.axis.label,
            "scope": entry.scope,
            "snapshot_id": snapshot.pk if snapshot is not None else None,
            "computed_at": snapshot.computed_at if snapshot is not None else None,
            "vote_count": snapshot.vote_count if snapshot is not None else 0,
            "rows": rows,
        })
    return boards


def _counted_votes(campaign: Campaign, axis: Axis) -> QuerySet[Vote]:
    """The votes the boards count on this axis (answered on it), whose labels the agreement figures compare."""
    return (
        Vote.objects.filter(board_votes_filter(campaign.pk))
        .exclude(**{axis.column: ""})
        .exclude(rater__excluded_from_boards=True)
    )


def agreement_counts(*, campaign: Campaign, axis: Axis) -> np.ndarray:
    """Pairs x (a, b, tie, both_bad) counts of the votes the boards count on this axis, each vote turned to the
    pair's own order; every pair that has such a vote is a row (the agreement figures keep those with >= 2)."""
    votes = _counted_votes(campaign, axis).values_list(
        "battle__campaign_assignment__pair_id", "battle__clip_a_id", "battle__campaign_assignment__pair__clip_a_id",
        axis.column,
    )
    category = {outcome: position for position, outcome in enumerate(OUTCOMES)}
    index: dict[int, int] = {}
    cells: list[tuple[int, int]] = []
    for pair_id, shown_a, pair_a, choice in votes.iterator(chunk_size=5000):
        if choice not in category:
            continue
        if shown_a != pair_a and choice in ("a", "b"):
            choice = "b" if choice == "a" else "a"
        cells.append((index.setdefault(pair_id, len(index)), category[choice]))
    counts = np.zeros((len(index), len(OUTCOMES)))
    if cells:
        np.add.at(counts, tuple(np.array(cells).T), 1.0)
    return counts


def _agreement_key(campaign: Campaign, axis: Axis, rounds: int) -> str:
    """Names the set of counted votes on the axis: their number, last id and sum of ids change whenever a vote is
    added or a rater is left out or let back in (votes themselves never change)."""
    votes = _counted_votes(campaign, axis).aggregate(n=Count("id"), last=Max("id"), total=Sum("id"))
    return (
        f"annotation:agreement:{campaign.pk}:{axis.value}:{rounds}:{AGREEMENT_SEED}:"
        f"{votes['n']}:{votes['last'] or 0}:{votes['total'] or 0}"
    )


def axis_agreement(*, campaign: Campaign, axis: Axis, rounds: int = AGREEMENT_ROUNDS) -> dict[str, Any]:
    """Rater-versus-rater agreement on one axis over the pairs with >= 2 counted votes, each figure with its 95%
    interval (resampling pairs) and n. The bootstrap costs seconds on thousands of pairs, so the answer is cached
    under a fingerprint of the votes behind it."""
    key = _agreement_key(campaign, axis, rounds)
    cached = cache_get_quietly(key)
    if cached is not None:
        return dict(cached)
    report: RaterAgreement = rater_agreement_from_counts(
        agreement_counts(campaign=campaign, axis=axis), categories=OUTCOMES, rounds=rounds, seed=AGREEMENT_SEED
    )
    figures = {
        "axis": axis.value,
        "label": axis.label,
        "n_items": report.n_items,
        "n_votes": report.n_votes,
        "categories": report.categories,
        **{
            name: getattr(report, name).as_dict()
            for name in ("pairwise_agreement", "fleiss_kappa", "krippendorff_alpha", "majority_agreement")
        },
    }
    cache_set_quietly(key, figures, timeout=AGREEMENT_CACHE_SECONDS)
    return figures


def campaign_agreement(*, campaign: Campaign, rounds: int = AGREEMENT_ROUNDS) -> list[dict[str, Any]]:
    """Agreement per axis the campaign asks (see axis_agreement)."""
    return [axis_agreement(campaign=campaign, axis=entry.axis, rounds=rounds) for entry in campaign_axes(campaign)]


def campaign_dashboard(
    *, campaign: Campaign, now: datetime | None = None, rounds: int = AGREEMENT_ROUNDS
) -> dict[str, Any]:
    """Everything the dashboard page and its API show, read now."""
    now = now or timezone.now()
    crowd = crowd_bt_snapshot(campaign=campaign)
    return {
        "campaign": {
            "slug": campaign.slug,
            "name": campaign.name,
            "status": campaign.status,
            "overlap": campaign.overlap,
            "scope": campaign.scope,
            "axes": [entry.axis.value for entry in campaign_axes(campaign)],
            "scopes": [entry.scope for entry in campaign_axes(campaign)],
        },
        "progress": campaign_progress(campaign=campaign, now=now),
        "times": campaign_vote_times(campaign=campaign),
        "reliability_computed_at": crowd.computed_at if crowd is not None else None,
        "raters": campaign_raters(campaign=campaign, crowd=crowd),
        "boards": campaign_boards(campaign=campaign),
        "agreement": campaign_agreement(campaign=campaign, rounds=rounds),
        "computed_at": now,
    }
