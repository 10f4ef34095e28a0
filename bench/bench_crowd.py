"""Benchmark of scoring.crowd: plain against reliability-weighted (Crowd-BT) ratings in simulated campaigns with 10%,
30% and 50% random raters, and the time of a large weighted fit.

Each campaign: 12 systems 3 logits apart end to end, 60 raters of 100 votes each on uniformly drawn pairs; a random
rater votes by coin flip (eta 0.5), a careful one follows Bradley–Terry with eta drawn from [0.9, 1]. Printed: mean
over seeds of Kendall's tau to the true ranking and of the rating RMSE (Elo points, both boards centred at 1000).

Run: python bench/bench_crowd.py [--seeds 10] [--large-raters 2000] [--large-systems 50] [--large-votes 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring.crowd import crowd_bt_fit, simulate_rater_votes  # noqa: E402
from scoring.ratings import DEFAULT_LEADERBOARD_PRIOR, PairCounts, bt_fit, elo_from_theta  # noqa: E402

SYSTEMS, RATERS, VOTES_PER_RATER = 12, 60, 100


def plain_ratings(votes: dict[str, np.ndarray], n_systems: int) -> np.ndarray:
    counts = PairCounts.from_grouped(sys_a=votes["sys_a"], sys_b=votes["sys_b"], wins_a=votes["wins_a"],
                                     wins_b=votes["wins_b"], ties=votes["ties"],
                                     both_bad=np.zeros_like(votes["ties"]), n_systems=n_systems)
    return bt_fit(counts, prior=DEFAULT_LEADERBOARD_PRIOR).ratings()


def campaign(random_share: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    strengths = np.linspace(-1.5, 1.5, SYSTEMS)
    truth = elo_from_theta(strengths)
    random_raters = round(random_share * RATERS)
    etas = np.where(np.arange(RATERS) < random_raters, 0.5, rng.uniform(0.9, 1.0, RATERS))
    votes = simulate_rater_votes(strengths=strengths, etas=etas, votes_per_rater=VOTES_PER_RATER, seed=rng)
    plain = plain_ratings(votes, SYSTEMS)
    fit = crowd_bt_fit(**votes, n_systems=SYSTEMS, n_raters=RATERS)
    return {
        "plain_tau": float(kendalltau(plain, truth).statistic),
        "weighted_tau": float(kendalltau(fit.rating, truth).statistic),
        "plain_rmse": float(np.sqrt(np.mean((plain - truth) ** 2))),
        "weighted_rmse": float(np.sqrt(np.mean((fit.rating - truth) ** 2))),
        "eta_random": float(fit.eta[:random_raters].mean()),
        "eta_careful": float(fit.eta[random_raters:].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--large-raters", type=int, default=2000)
    parser.add_argument("--large-systems", type=int, default=50)
    parser.add_argument("--large-votes", type=int, default=200_000)
    args = parser.parse_args()

    print(f"{SYSTEMS} systems, {RATERS} raters x {VOTES_PER_RATER} votes, mean of {args.seeds} seeds")
    print(f"{'random raters':>13} | {'tau plain':>9} {'tau weighted':>12} | {'RMSE plain':>10} "
          f"{'RMSE weighted':>13} | {'eta random':>10} {'eta careful':>11}")
    for share in (0.1, 0.3, 0.5):
        runs = [campaign(share, seed) for seed in range(args.seeds)]
        mean = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
        print(f"{share:>13.0%} | {mean['plain_tau']:>9.3f} {mean['weighted_tau']:>12.3f} | "
              f"{mean['plain_rmse']:>10.1f} {mean['weighted_rmse']:>13.1f} | {mean['eta_random']:>10.3f} "
              f"{mean['eta_careful']:>11.3f}")

    rng = np.random.default_rng(2013)
    per_rater = args.large_votes // args.large_raters
    strengths = rng.normal(0.0, 1.0, args.large_systems)
    etas = np.where(rng.random(args.large_raters) < 0.3, 0.5, rng.uniform(0.9, 1.0, args.large_raters))
    votes = simulate_rater_votes(strengths=strengths, etas=etas, votes_per_rater=per_rater, seed=rng)
    start = time.perf_counter()
    fit = crowd_bt_fit(**votes, n_systems=args.large_systems, n_raters=args.large_raters)
    elapsed = time.perf_counter() - start
    truth = elo_from_theta(strengths)
    print(f"large fit: {args.large_raters} raters, {args.large_systems} systems, {per_rater * args.large_raters} "
          f"votes (30% random): {elapsed:.2f} s, {fit.iterations} L-BFGS iterations, rating RMSE "
          f"{np.sqrt(np.mean((fit.rating - truth) ** 2)):.1f}")


if __name__ == "__main__":
    main()
