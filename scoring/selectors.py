"""Reads of scoring data: current leaderboards and their history, ratings for the reveal after a vote."""
from __future__ import annotations

from scoring.models import LeaderboardSnapshot


def snapshot_current(*, scope: str) -> LeaderboardSnapshot | None:
    return LeaderboardSnapshot.objects.filter(scope=scope).order_by("-computed_at", "-id").first()


def system_ratings(*, scope: str = "arena") -> dict[int, dict[str, float]]:
    """system id → {rating, ci_low, ci_high} from the scope's current snapshot (empty before the first one)."""
    snapshot = snapshot_current(scope=scope)
    if snapshot is None:
        return {}
    return {
        int(row["system_id"]): {key: float(row[key]) for key in ("rating", "ci_low", "ci_high")}
        for row in snapshot.rows
    }
