"""Refit a published board from exported rows alone: no Django, no database (the snippet a reader can run).

    from scoring.refit import board_refit
    rows = [(r["system_a"], r["system_b"], r["winner"]) for r in rows_of_the_export]
    refit = board_refit(rows, systems=board["systems"], seed=board["seed"],
                        rounds=board["method"]["rounds"], min_votes=board["method"]["min_votes"])

The computation is the recompute's own (scoring.services): the votes' pair counts in the board's system order,
`ratings.leaderboard` with the board's bootstrap rounds and seed, the systems with at least `min_votes` shown,
ranked by their intervals, figures rounded to two places. Same rows, same board, to the last digit.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from scoring import ratings

OUTCOMES = ("a", "b", "tie", "both_bad")


def _round(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 2)


def board_refit(
    rows: Iterable[tuple[str, str, str]], *, systems: list[str], seed: int, rounds: int, min_votes: int
) -> list[dict[str, Any]]:
    """The board of these (system_a, system_b, winner) rows: one dict per shown system (slug, rating, ci_low,
    ci_high, rank, n), best first. `systems` is the board's system order (its `systems` list)."""
    index = {slug: i for i, slug in enumerate(systems)}
    cells: Counter[tuple[int, int, str]] = Counter()
    for system_a, system_b, winner in rows:
        if winner not in OUTCOMES:
            raise ValueError(f"winner {winner!r} is not one of {', '.join(OUTCOMES)}")
        try:
            cells[index[system_a], index[system_b], winner] += 1
        except KeyError as missing:
            raise ValueError(f"system {missing.args[0]!r} is not among the board's systems") from None
    pairs = sorted({(a, b) for a, b, _ in cells})
    counts = ratings.PairCounts.from_grouped(
        sys_a=[a for a, _ in pairs], sys_b=[b for _, b in pairs],
        wins_a=[cells[a, b, "a"] for a, b in pairs], wins_b=[cells[a, b, "b"] for a, b in pairs],
        ties=[cells[a, b, "tie"] for a, b in pairs], both_bad=[cells[a, b, "both_bad"] for a, b in pairs],
        n_systems=len(systems),
    )
    board = ratings.leaderboard(counts, rounds=rounds, seed=seed)
    shown = np.flatnonzero(board.rated & (board.n >= min_votes))
    shown_rank = ratings.ranks_from_intervals(board.ci_low[shown], board.ci_high[shown])
    refit: list[dict[str, Any]] = [
        {"slug": systems[i], "rating": _round(board.rating[i]), "ci_low": _round(board.ci_low[i]),
         "ci_high": _round(board.ci_high[i]), "rank": int(shown_rank[position]), "n": int(board.n[i])}
        for position, i in enumerate(shown.tolist())
    ]
    refit.sort(key=lambda row: (row["rank"], -(row["rating"] or 0.0), row["slug"]))
    return refit
