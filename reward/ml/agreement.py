"""How well the reward model agrees with people: accuracy, calibration, AUC, baselines, rank correlation with the
leaderboard and the anchoring effect of showing its suggestion.

People versus people (the ceiling for the model) is scoring.agreement's, and so are the intervals and the bootstrap
shared with it. Pure numpy/scipy (no Django, no torch): arrays in, plain dataclasses out; every figure carries a 95%
interval and n.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import sparse, stats

from scoring.agreement import (
    BOOTSTRAP_ROUNDS,
    CONFIDENCE,
    AgreementInputError,
    ArrayLike,
    Estimate,
    as_labels,
    as_outcomes,
    bootstrap_rounds,
    check_lengths,
    newcombe_difference_interval,
    percentile_estimate,
    ratio_statistic,
    wilson_interval,
    z_value,
)

TIE_MARGIN = 0.1
CALIBRATION_BINS = 10
ELO_SCALE = 400.0

TieTargets = Literal["exclude", "half"]


@dataclass(frozen=True)
class AccuracyEstimate:
    """An accuracy with two intervals: a bootstrap percentile one and a Wilson score one."""

    value: float | None
    n: int
    correct: float
    bootstrap: Estimate
    wilson: Estimate

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability curve: votes whose predicted P(A preferred) falls in (low, high]."""

    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed: float | None
    observed_low: float | None
    observed_high: float | None


@dataclass(frozen=True)
class Calibration:
    """Reliability curve, Brier score, log-loss and expected calibration error of P(A preferred)."""

    ties: str
    n: int
    bins: list[ReliabilityBin]
    brier: Estimate
    log_loss: Estimate
    ece: Estimate

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelAgreement:
    """How well the model's P(A preferred) agrees with one set of votes."""

    n_votes: int
    n_decisive: int
    n_ties: int
    n_dropped_both_bad: int
    accuracy: AccuracyEstimate
    accuracy_with_ties: AccuracyEstimate
    auc: Estimate
    calibration: Calibration

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Baselines:
    """What the model must beat on the same votes, and the paired differences model minus baseline."""

    n_decisive: int
    coin_flip: Estimate
    model_vs_coin_p_value: float | None
    always_a: AccuracyEstimate
    model_minus_always_a: Estimate
    rating_prior: ModelAgreement | None
    model_minus_rating_prior: Estimate | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RankCorrelation:
    """System-level agreement between the model's mean reward and the people's rating."""

    systems: list[str]
    kendall_tau: Estimate
    spearman_rho: Estimate

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AnchoringEffect:
    """Agreement with the model's suggestion when it was shown versus when it was hidden."""

    shown: Estimate
    hidden: Estimate
    difference: Estimate

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------------------
# Validation of the model's inputs.


def _as_float_array(values: ArrayLike, *, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise AgreementInputError(f"{name} must be one-dimensional, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise AgreementInputError(f"{name} contains NaN or infinite values.")
    return array


def _as_probabilities(values: ArrayLike, *, name: str = "p_a") -> np.ndarray:
    array = _as_float_array(values, name=name)
    if np.any((array < 0.0) | (array > 1.0)):
        raise AgreementInputError(f"{name} must lie in [0, 1].")
    return array


def _cluster_index(cluster: ArrayLike | None, n_rows: int) -> tuple[np.ndarray, int]:
    if cluster is None:
        return np.arange(n_rows), n_rows
    labels = as_labels(cluster, name="cluster")
    _, index = np.unique(labels.astype(str), return_inverse=True)
    return index, int(index.max()) + 1 if n_rows else 0


# --------------------------------------------------------------------------------------------------------------
# Model versus people.


def _accuracy_from_credits(
    credits: np.ndarray, *, cluster: np.ndarray | None, rounds: int, seed: int, what: str
) -> AccuracyEstimate:
    n = len(credits)
    correct = float(credits.sum())
    if n == 0:
        reason = "no votes to score"
        empty = Estimate(None, None, None, 0, what, reason=reason)
        return AccuracyEstimate(None, 0, 0.0, empty, dataclasses.replace(empty, method=f"{what}; Wilson score"))
    value = correct / n
    unit_of_row, n_units = _cluster_index(cluster, n)
    rounds_values = bootstrap_rounds(
        ratio_statistic(credits, np.ones(n)), unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed
    )
    resampled = "clusters" if cluster is not None else "votes"
    bootstrap = percentile_estimate(value, rounds_values, n=n, what=f"{what}; resampling {resampled}", seed=seed)
    low, high = wilson_interval(correct, n) or (None, None)
    wilson = Estimate(value, low, high, n, f"{what}; Wilson score")
    return AccuracyEstimate(value, n, correct, bootstrap, wilson)


def _drop_both_bad(
    p_a: np.ndarray, outcome: np.ndarray, *others: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray | None], int]:
    keep = outcome != "both_bad"
    kept = [other[keep] if other is not None else None for other in others]
    return p_a[keep], outcome[keep], kept, int((~keep).sum())


def _prepare(
    p_a: ArrayLike, outcome: ArrayLike, cluster: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    probabilities = _as_probabilities(p_a)
    outcomes = as_outcomes(outcome)
    clusters = as_labels(cluster, name="cluster") if cluster is not None else None
    check_lengths(p_a=probabilities, outcome=outcomes, cluster=clusters)
    probabilities, outcomes, (clusters,), dropped = _drop_both_bad(probabilities, outcomes, clusters)
    return probabilities, outcomes, clusters, dropped


def _side_credits(p_a: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """1 when the side with the higher predicted probability won, 0 when it lost, 0.5 when p_a is exactly 0.5."""
    predicted_a = np.where(p_a > 0.5, 1.0, np.where(p_a < 0.5, 0.0, 0.5))
    return np.where(outcome == "a", predicted_a, 1.0 - predicted_a)


def pairwise_accuracy(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    cluster: ArrayLike | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> AccuracyEstimate:
    """Share of decisive (non-tie) votes where the model favoured the winner; ties and both_bad are left out.

    A prediction of exactly 0.5 picks no side and earns half a point. `cluster` (e.g. prompt ids) makes the bootstrap
    resample whole clusters, which is honest when votes within a cluster are correlated.
    """
    probabilities, outcomes, clusters, _ = _prepare(p_a, outcome, cluster)
    decisive = outcomes != "tie"
    credits = _side_credits(probabilities[decisive], outcomes[decisive])
    return _accuracy_from_credits(
        credits,
        cluster=clusters[decisive] if clusters is not None else None,
        rounds=rounds,
        seed=seed,
        what="accuracy on non-tie votes",
    )


def three_way_prediction(p_a: ArrayLike, *, tie_margin: float = TIE_MARGIN) -> np.ndarray:
    """The model's call for each vote: "tie" when |p_a - 0.5| < tie_margin, else the side it favours."""
    if not 0.0 < tie_margin <= 0.5:
        raise AgreementInputError(f"tie_margin must lie in (0, 0.5], got {tie_margin}.")
    probabilities = _as_probabilities(p_a)
    sides = np.where(probabilities > 0.5, "a", "b").astype(object)
    return np.where(np.abs(probabilities - 0.5) < tie_margin, "tie", sides).astype(object)


def tie_aware_accuracy(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    tie_margin: float = TIE_MARGIN,
    cluster: ArrayLike | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> AccuracyEstimate:
    """Three-way accuracy over all votes, ties included: the model calls "tie" when |p_a - 0.5| < tie_margin.

    We chose a three-way call over "a tie scores 0.5" because half credit for every tie does not depend on the model
    at all; the three-way call also costs the model a point when it hedges on a vote people decided.
    """
    probabilities, outcomes, clusters, _ = _prepare(p_a, outcome, cluster)
    predicted = three_way_prediction(probabilities, tie_margin=tie_margin)
    credits = (predicted == outcomes).astype(float)
    return _accuracy_from_credits(
        credits, cluster=clusters, rounds=rounds, seed=seed, what=f"three-way accuracy, tie when |p_a-0.5|<{tie_margin}"
    )


def _weighted_auc_statistic(scores: np.ndarray, positive: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Weighted Mann-Whitney AUC (ties in score count a half), for a batch of weight vectors at once."""
    levels, level_of_row = np.unique(scores, return_inverse=True)
    rows = np.arange(len(scores))
    shape = (len(scores), len(levels))
    positive_rows = sparse.csr_matrix((positive.astype(float), (rows, level_of_row)), shape=shape)
    negative_rows = sparse.csr_matrix(((~positive).astype(float), (rows, level_of_row)), shape=shape)

    def statistic(weights: np.ndarray) -> np.ndarray:
        positive_mass = np.asarray((positive_rows.T @ weights.T).T)
        negative_mass = np.asarray((negative_rows.T @ weights.T).T)
        negative_below = np.cumsum(negative_mass, axis=1) - negative_mass
        wins = (positive_mass * (negative_below + 0.5 * negative_mass)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return wins / (positive_mass.sum(axis=1) * negative_mass.sum(axis=1))

    return statistic


def preference_auc(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    cluster: ArrayLike | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> Estimate:
    """ROC AUC of p_a for "A preferred" over decisive votes; None with a reason when only one side ever won."""
    probabilities, outcomes, clusters, _ = _prepare(p_a, outcome, cluster)
    decisive = outcomes != "tie"
    scores, positive = probabilities[decisive], outcomes[decisive] == "a"
    n = len(scores)
    what = "ROC AUC of p_a for A preferred, non-tie votes"
    if n == 0:
        return Estimate(None, None, None, 0, what, reason="no non-tie votes")
    if positive.all() or not positive.any():
        side = "A" if positive.all() else "B"
        return Estimate(None, None, None, n, what, reason=f"undefined: every non-tie vote preferred {side}")
    statistic = _weighted_auc_statistic(scores, positive)
    value = float(statistic(np.ones((1, n)))[0])
    unit_of_row, n_units = _cluster_index(clusters[decisive] if clusters is not None else None, n)
    rounds_values = bootstrap_rounds(statistic, unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed)
    return percentile_estimate(value, rounds_values, n=n, what=what, seed=seed)


def _calibration_targets(
    probabilities: np.ndarray, outcomes: np.ndarray, clusters: np.ndarray | None, ties: TieTargets
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if ties == "exclude":
        keep = outcomes != "tie"
    elif ties == "half":
        keep = np.ones(len(outcomes), dtype=bool)
    else:
        raise AgreementInputError(f'ties must be "exclude" or "half", got {ties!r}.')
    targets = np.where(outcomes[keep] == "a", 1.0, np.where(outcomes[keep] == "b", 0.0, 0.5))
    return probabilities[keep], targets, clusters[keep] if clusters is not None else None


def calibration_bin_index(p_a: np.ndarray, *, n_bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Equal-width bins on [0, 1], closed on the right ((0.1, 0.2] ...; 0 falls in the first), as sklearn bins them."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p_a)


def calibration(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    ties: TieTargets = "exclude",
    n_bins: int = CALIBRATION_BINS,
    cluster: ArrayLike | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> Calibration:
    """Reliability curve, Brier score, log-loss and ECE of p_a as P(A preferred).

    ties="exclude" scores decisive votes only (then the figures match sklearn's); ties="half" keeps ties with target
    0.5, which rewards a model for hedging on them but gives log-loss a floor of ln 2 on those votes. Log-loss clips p_a
    to [eps, 1 - eps] with float64 eps, as sklearn does. ECE = sum over bins of (bin share) * |mean p_a - observed|.
    """
    if n_bins < 1:
        raise AgreementInputError(f"n_bins must be at least 1, got {n_bins}.")
    probabilities, outcomes, clusters, _ = _prepare(p_a, outcome, cluster)
    predicted, targets, clusters = _calibration_targets(probabilities, outcomes, clusters, ties)
    n = len(predicted)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_of_row = calibration_bin_index(predicted, n_bins=n_bins)
    bins = []
    for index in range(n_bins):
        members = bin_of_row == index
        count = int(members.sum())
        interval = wilson_interval(float(targets[members].sum()), count)
        bins.append(
            ReliabilityBin(
                low=float(edges[index]),
                high=float(edges[index + 1]),
                count=count,
                mean_predicted=float(predicted[members].mean()) if count else None,
                observed=float(targets[members].mean()) if count else None,
                observed_low=interval[0] if interval else None,
                observed_high=interval[1] if interval else None,
            )
        )
    tie_note = "ties excluded" if ties == "exclude" else "ties as 0.5 targets"
    if n == 0:
        reason = "no votes to score"
        return Calibration(
            ties, 0, bins,
            Estimate(None, None, None, 0, f"Brier score, {tie_note}", reason=reason),
            Estimate(None, None, None, 0, f"log-loss, {tie_note}", reason=reason),
            Estimate(None, None, None, 0, f"expected calibration error, {n_bins} bins, {tie_note}", reason=reason),
        )
    eps = np.finfo(float).eps
    clipped = np.clip(predicted, eps, 1 - eps)
    squared = (predicted - targets) ** 2
    losses = -(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    # Per-bin counts cancel out of ECE (share * |mean gap| = |summed gap| / n), so only the sums are needed.
    predicted_by_bin = sparse.csr_matrix((predicted, (np.arange(n), bin_of_row)), shape=(n, n_bins))
    observed_by_bin = sparse.csr_matrix((targets, (np.arange(n), bin_of_row)), shape=(n, n_bins))

    def ece_statistic(weights: np.ndarray) -> np.ndarray:
        gap = np.asarray((predicted_by_bin.T @ weights.T).T) - np.asarray((observed_by_bin.T @ weights.T).T)
        return np.abs(gap).sum(axis=1) / weights.sum(axis=1)

    unit_of_row, n_units = _cluster_index(clusters, n)
    figures = {}
    for name, statistic, what in (
        ("brier", ratio_statistic(squared, np.ones(n)), f"Brier score, {tie_note}"),
        ("log_loss", ratio_statistic(losses, np.ones(n)), f"log-loss (natural log), {tie_note}"),
        ("ece", ece_statistic, f"expected calibration error, {n_bins} equal-width bins, {tie_note}"),
    ):
        value = float(statistic(np.ones((1, n)))[0])
        rounds_values = bootstrap_rounds(statistic, unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed)
        figures[name] = percentile_estimate(value, rounds_values, n=n, what=what, seed=seed)
    return Calibration(ties, n, bins, figures["brier"], figures["log_loss"], figures["ece"])


def model_agreement(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    cluster: ArrayLike | None = None,
    tie_margin: float = TIE_MARGIN,
    ties: TieTargets = "exclude",
    n_bins: int = CALIBRATION_BINS,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> ModelAgreement:
    """Every model-versus-people figure on one set of votes; both_bad votes are dropped and counted."""
    probabilities, outcomes, clusters, dropped = _prepare(p_a, outcome, cluster)
    common: dict[str, Any] = {
        "p_a": probabilities, "outcome": outcomes, "cluster": clusters, "rounds": rounds, "seed": seed
    }
    n_ties = int((outcomes == "tie").sum())
    return ModelAgreement(
        n_votes=len(outcomes),
        n_decisive=len(outcomes) - n_ties,
        n_ties=n_ties,
        n_dropped_both_bad=dropped,
        accuracy=pairwise_accuracy(**common),
        accuracy_with_ties=tie_aware_accuracy(tie_margin=tie_margin, **common),
        auc=preference_auc(**common),
        calibration=calibration(ties=ties, n_bins=n_bins, **common),
    )


def model_agreement_by_group(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    group: ArrayLike,
    also_group: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    tie_margin: float = TIE_MARGIN,
    ties: TieTargets = "exclude",
    n_bins: int = CALIBRATION_BINS,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> dict[str, ModelAgreement]:
    """The same figures per group (axis, campaign, prompt ...), keyed by the group label as a string, sorted.

    A vote can belong to two groups: for a per-system breakdown pass group=system of clip A and also_group=system of
    clip B, so each vote counts once for each system it involves (once if both clips come from the same system).
    """
    probabilities = _as_probabilities(p_a)
    outcomes = as_outcomes(outcome)
    groups = as_labels(group, name="group").astype(str)
    second = as_labels(also_group, name="also_group").astype(str) if also_group is not None else None
    clusters = as_labels(cluster, name="cluster") if cluster is not None else None
    check_lengths(p_a=probabilities, outcome=outcomes, group=groups, also_group=second, cluster=clusters)
    labels = set(groups.tolist()) | (set(second.tolist()) if second is not None else set())
    report = {}
    for label in sorted(labels):
        members = groups == label
        if second is not None:
            members |= second == label
        report[label] = model_agreement(
            p_a=probabilities[members],
            outcome=outcomes[members],
            cluster=clusters[members] if clusters is not None else None,
            tie_margin=tie_margin,
            ties=ties,
            n_bins=n_bins,
            rounds=rounds,
            seed=seed,
        )
    return report


def rating_prior_probability(*, rating_a: ArrayLike, rating_b: ArrayLike, scale: float = ELO_SCALE) -> np.ndarray:
    """P(A preferred) implied by the two systems' ratings on the Elo scale (Bradley-Terry: 400 * log10 odds)."""
    first = _as_float_array(rating_a, name="rating_a")
    second = _as_float_array(rating_b, name="rating_b")
    check_lengths(rating_a=first, rating_b=second)
    return 1.0 / (1.0 + np.power(10.0, (second - first) / scale))


def _paired_difference(
    credits_model: np.ndarray, credits_baseline: np.ndarray, *, cluster: np.ndarray | None, rounds: int, seed: int,
    what: str,
) -> Estimate:
    n = len(credits_model)
    if n == 0:
        return Estimate(None, None, None, 0, what, reason="no non-tie votes")
    difference = credits_model - credits_baseline
    value = float(difference.mean())
    unit_of_row, n_units = _cluster_index(cluster, n)
    rounds_values = bootstrap_rounds(
        ratio_statistic(difference, np.ones(n)), unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed
    )
    return percentile_estimate(value, rounds_values, n=n, what=f"{what}; paired", seed=seed)


def model_baselines(
    *,
    p_a: ArrayLike,
    outcome: ArrayLike,
    rating_a: ArrayLike | None = None,
    rating_b: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    tie_margin: float = TIE_MARGIN,
    ties: TieTargets = "exclude",
    n_bins: int = CALIBRATION_BINS,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> Baselines:
    """Baselines on the same decisive votes: a fair coin, always-A, and the prior from the two systems' ratings.

    The coin's interval is the range a fair coin's accuracy falls in 95% of the time on this many votes; the model's
    p-value against it is an exact two-sided binomial test (half credits rounded). If the ratings were fitted on these
    very votes the prior is optimistic; pass ratings from other votes for a fair comparison.
    """
    probabilities, outcomes, clusters, _ = _prepare(p_a, outcome, cluster)
    prior: np.ndarray | None = None
    if (rating_a is None) != (rating_b is None):
        raise AgreementInputError("Pass both rating_a and rating_b, or neither.")
    if rating_a is not None and rating_b is not None:
        outcomes_raw = as_outcomes(outcome)
        prior_all = rating_prior_probability(rating_a=rating_a, rating_b=rating_b)
        check_lengths(outcome=outcomes_raw, rating_a=prior_all)
        prior = prior_all[outcomes_raw != "both_bad"]
    decisive = outcomes != "tie"
    n = int(decisive.sum())
    model_credits = _side_credits(probabilities[decisive], outcomes[decisive])
    decisive_clusters = clusters[decisive] if clusters is not None else None

    if n:
        low, high = stats.binom.ppf([(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2], n, 0.5) / n
        coin = Estimate(0.5, float(low), float(high), n, "fair coin: expected 0.5, central 95% of Binomial(n, 0.5)/n")
        p_value: float | None = float(stats.binomtest(int(round(model_credits.sum())), n, 0.5).pvalue)
    else:
        coin = Estimate(None, None, None, 0, "fair coin", reason="no non-tie votes")
        p_value = None

    always_a_credits = (outcomes[decisive] == "a").astype(float)
    always_a = _accuracy_from_credits(
        always_a_credits, cluster=decisive_clusters, rounds=rounds, seed=seed, what="always predict A, non-tie votes"
    )
    rating_report: ModelAgreement | None = None
    prior_difference: Estimate | None = None
    if prior is not None:
        rating_report = model_agreement(
            p_a=prior, outcome=outcomes, cluster=clusters, tie_margin=tie_margin, ties=ties, n_bins=n_bins,
            rounds=rounds, seed=seed,
        )
        prior_difference = _paired_difference(
            model_credits, _side_credits(prior[decisive], outcomes[decisive]), cluster=decisive_clusters,
            rounds=rounds, seed=seed, what="model accuracy minus rating-prior accuracy",
        )
    return Baselines(
        n_decisive=n,
        coin_flip=coin,
        model_vs_coin_p_value=p_value,
        always_a=always_a,
        model_minus_always_a=_paired_difference(
            model_credits, always_a_credits, cluster=decisive_clusters, rounds=rounds, seed=seed,
            what="model accuracy minus always-A accuracy",
        ),
        rating_prior=rating_report,
        model_minus_rating_prior=prior_difference,
    )


def system_mean_reward(*, system: ArrayLike, reward: ArrayLike) -> dict[str, Estimate]:
    """Mean reward per system over its clips, with a t interval; keys are the system labels as strings."""
    systems = as_labels(system, name="system").astype(str)
    rewards = _as_float_array(reward, name="reward")
    check_lengths(system=systems, reward=rewards)
    report = {}
    for label in sorted(set(systems.tolist())):
        values = rewards[systems == label]
        n = len(values)
        mean = float(values.mean())
        if n < 2:
            report[label] = Estimate(mean, None, None, n, "mean reward; t interval", reason="one clip: no interval")
            continue
        half = float(stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
        report[label] = Estimate(mean, mean - half, mean + half, n, "mean reward; t interval")
    return report


def _fisher_interval(value: float, n: int, variance_numerator: float, offset: int) -> tuple[float, float]:
    # Fieller, Hartley and Pearson (1957): atanh(tau) has variance ~0.437/(n-4); atanh(rho) ~1.06/(n-3).
    bounded = min(max(value, -1 + 1e-12), 1 - 1e-12)
    half = z_value() * math.sqrt(variance_numerator / (n - offset))
    centre = math.atanh(bounded)
    return math.tanh(centre - half), math.tanh(centre + half)


def system_rank_correlation(*, reward: Mapping[str, float], rating: Mapping[str, float]) -> RankCorrelation:
    """Kendall's tau-b and Spearman's rho between mean reward and people's rating over the systems in both maps.

    p-values come from scipy; 95% intervals use the Fisher z with Fieller-Hartley-Pearson variances, given from 5
    systems up (fewer give a value and p-value but no interval).
    """
    systems = sorted(set(map(str, reward)) & set(map(str, rating)))
    rewards = {str(key): float(value) for key, value in reward.items()}
    ratings = {str(key): float(value) for key, value in rating.items()}
    x = np.array([rewards[name] for name in systems])
    y = np.array([ratings[name] for name in systems])
    n = len(systems)
    results = []
    for name, function, variance_numerator, offset in (
        ("Kendall tau-b", stats.kendalltau, 0.437, 4),
        ("Spearman rho", stats.spearmanr, 1.06, 3),
    ):
        what = f"{name}, mean reward vs rating over systems; Fisher z interval (Fieller et al. 1957)"
        if n < 3:
            results.append(Estimate(None, None, None, n, what, reason="needs at least 3 systems"))
            continue
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            results.append(Estimate(None, None, None, n, what, reason="undefined: one side is constant"))
            continue
        outcome = function(x, y)
        value, p_value = float(outcome.statistic), float(outcome.pvalue)
        if n < 5:
            results.append(Estimate(value, None, None, n, what, p_value=p_value, reason="interval needs 5 systems"))
            continue
        low, high = _fisher_interval(value, n, variance_numerator, offset)
        results.append(Estimate(value, low, high, n, what, p_value=p_value))
    return RankCorrelation(systems=systems, kendall_tau=results[0], spearman_rho=results[1])


def anchoring_effect(
    *, suggestion: ArrayLike, outcome: ArrayLike, shown: ArrayLike, include_ties: bool = False
) -> AnchoringEffect:
    """Agreement with the model's suggested side when shown minus when hidden, with Newcombe's interval.

    Agreement means the vote picked the suggested side. Ties and both_bad are left out by default (they neither
    follow nor resist the suggestion); include_ties=True counts them as not agreeing. The p-value is the two-sided
    pooled two-proportion z test.
    """
    suggestions = as_outcomes(suggestion)
    if not set(suggestions.tolist()) <= {"a", "b"}:
        raise AgreementInputError('suggestion must be "a" or "b".')
    outcomes = as_outcomes(outcome)
    was_shown = np.asarray(shown, dtype=bool)
    check_lengths(suggestion=suggestions, outcome=outcomes, shown=was_shown)
    keep = np.ones(len(outcomes), dtype=bool) if include_ties else np.isin(outcomes, ("a", "b"))
    agrees = (outcomes == suggestions)[keep]
    was_shown = was_shown[keep]
    tie_note = "ties count as not agreeing" if include_ties else "ties and both_bad left out"
    proportions = []
    for members, label in ((was_shown, "shown"), (~was_shown, "hidden")):
        n = int(members.sum())
        successes = int(agrees[members].sum())
        what = f"agreement with the suggestion when {label}, {tie_note}; Wilson score"
        interval = wilson_interval(successes, n)
        if interval is None:
            proportions.append((successes, n, Estimate(None, None, None, 0, what, reason=f"no votes with it {label}")))
        else:
            proportions.append((successes, n, Estimate(successes / n, interval[0], interval[1], n, what)))
    (shown_hits, shown_n, shown_estimate), (hidden_hits, hidden_n, hidden_estimate) = proportions
    what = f"shown minus hidden agreement, {tie_note}; Newcombe hybrid score interval"
    interval = newcombe_difference_interval(shown_hits, shown_n, hidden_hits, hidden_n)
    if interval is None:
        difference = Estimate(None, None, None, shown_n + hidden_n, what, reason="needs votes both shown and hidden")
    else:
        pooled = (shown_hits + hidden_hits) / (shown_n + hidden_n)
        spread = math.sqrt(pooled * (1 - pooled) * (1 / shown_n + 1 / hidden_n))
        value = shown_hits / shown_n - hidden_hits / hidden_n
        p_value = float(2 * stats.norm.sf(abs(value) / spread)) if spread > 0 else None
        difference = Estimate(value, interval[0], interval[1], shown_n + hidden_n, what, p_value=p_value)
    return AnchoringEffect(shown=shown_estimate, hidden=hidden_estimate, difference=difference)
