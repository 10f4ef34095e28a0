"""Agreement statistics: how well the reward model agrees with people, and how well people agree with each other.

Pure numpy/scipy (no Django, no torch): arrays in, plain dataclasses out; every figure carries a 95% interval and n.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 2000
MIN_BOOTSTRAP_ROUNDS = 1000
TIE_MARGIN = 0.1
CALIBRATION_BINS = 10
ELO_SCALE = 400.0
MIN_SHARED_ITEMS = 5
OUTCOMES = ("a", "b", "tie", "both_bad")

# Bootstrap weight matrices are built in chunks of at most this many cells, so memory stays flat with many votes.
_BOOTSTRAP_CELLS = 2_000_000

TieTargets = Literal["exclude", "half"]
ArrayLike = npt.ArrayLike


class AgreementInputError(ValueError):
    """Raised when the arrays handed in cannot be scored (mismatched lengths, unknown outcomes, bad probabilities)."""


@dataclass(frozen=True)
class Estimate:
    """One figure with its 95% interval; `value` is None (with `reason`) when the figure is undefined on these data."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str
    p_value: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
class RaterAgreement:
    """People versus people on items (order-normalised pairs) with at least two votes: the ceiling for the model."""

    categories: list[str]
    n_items: int
    n_votes: int
    pairwise_agreement: Estimate
    fleiss_kappa: Estimate
    krippendorff_alpha: Estimate
    majority_agreement: Estimate
    cohen_kappa: Estimate | None = None
    light_kappa: Estimate | None = None
    n_rater_pairs: int = 0
    notes: list[str] = field(default_factory=list)

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
# Shared pieces: validation, intervals, the vectorised bootstrap.


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


def _as_outcomes(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise AgreementInputError(f"outcome must be one-dimensional, got shape {array.shape}.")
    array = np.array([str(value) for value in array], dtype=object)
    unknown = sorted(set(array.tolist()) - set(OUTCOMES))
    if unknown:
        raise AgreementInputError(f"Unknown outcomes {unknown}; expected one of {list(OUTCOMES)}.")
    return array


def _as_labels(values: ArrayLike, *, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise AgreementInputError(f"{name} must be one-dimensional, got shape {array.shape}.")
    return array


def _check_lengths(**arrays: np.ndarray | None) -> int:
    lengths = {name: len(array) for name, array in arrays.items() if array is not None}
    if len(set(lengths.values())) > 1:
        raise AgreementInputError(f"Arrays differ in length: {lengths}.")
    return next(iter(lengths.values()), 0)


def _check_rounds(rounds: int) -> None:
    if rounds < MIN_BOOTSTRAP_ROUNDS:
        raise AgreementInputError(f"Use at least {MIN_BOOTSTRAP_ROUNDS} bootstrap rounds, got {rounds}.")


def _float_or_none(value: float | np.floating[Any]) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _z_value() -> float:
    return float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


def wilson_interval(successes: float, n: float) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; fractional successes (half credits) are accepted. None when n is 0."""
    if n <= 0:
        return None
    z = _z_value()
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference_interval(
    successes_1: float, n_1: float, successes_2: float, n_2: float
) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval (1998, method 10) for p1 - p2, built from the two Wilson intervals."""
    first = wilson_interval(successes_1, n_1)
    second = wilson_interval(successes_2, n_2)
    if first is None or second is None:
        return None
    p_1, p_2 = successes_1 / n_1, successes_2 / n_2
    difference = p_1 - p_2
    low = difference - math.sqrt((p_1 - first[0]) ** 2 + (second[1] - p_2) ** 2)
    high = difference + math.sqrt((first[1] - p_1) ** 2 + (p_2 - second[0]) ** 2)
    return low, high


def _bootstrap_rounds(
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    unit_of_row: np.ndarray,
    n_units: int,
    rounds: int,
    seed: int,
) -> np.ndarray:
    """Evaluate `statistic` on `rounds` resamples of the units (rows, or clusters of rows), no Python loop per round.

    Resampling n units with replacement is the same as giving each unit a multinomial count; `statistic` receives a
    (rounds_in_chunk, n_rows) weight matrix and returns one value per round, so every figure here is a weighted sum.
    """
    _check_rounds(rounds)
    rng = np.random.default_rng(seed)
    values = np.empty(rounds)
    chunk = max(1, _BOOTSTRAP_CELLS // max(n_units, len(unit_of_row), 1))
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        draws = rng.integers(0, n_units, size=(size, n_units))
        offsets = (np.arange(size) * n_units)[:, None]
        unit_weights = np.bincount((draws + offsets).ravel(), minlength=size * n_units).reshape(size, n_units)
        values[start : start + size] = statistic(unit_weights[:, unit_of_row].astype(float))
    return values


def _percentile_estimate(
    value: float | None, rounds_values: np.ndarray, *, n: int, what: str, seed: int, reason: str | None = None,
    p_value: float | None = None,
) -> Estimate:
    rounds = len(rounds_values)
    if value is None:
        return Estimate(None, None, None, n, what, p_value=p_value, reason=reason)
    finite = rounds_values[np.isfinite(rounds_values)]
    method = f"{what}; bootstrap percentile, {rounds} rounds, seed {seed}"
    if len(finite) < rounds:
        method += f" ({rounds - len(finite)} rounds undefined and left out)"
    if len(finite) == 0:
        return Estimate(value, None, None, n, method, p_value=p_value, reason="undefined in every bootstrap round")
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Estimate(value, float(low), float(high), n, method, p_value=p_value)


def _cluster_index(cluster: ArrayLike | None, n_rows: int) -> tuple[np.ndarray, int]:
    if cluster is None:
        return np.arange(n_rows), n_rows
    labels = _as_labels(cluster, name="cluster")
    _, index = np.unique(labels.astype(str), return_inverse=True)
    return index, int(index.max()) + 1 if n_rows else 0


def _ratio_statistic(numerator: np.ndarray, denominator: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def statistic(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights @ numerator) / (weights @ denominator)

    return statistic


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
    rounds_values = _bootstrap_rounds(
        _ratio_statistic(credits, np.ones(n)), unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed
    )
    resampled = "clusters" if cluster is not None else "votes"
    bootstrap = _percentile_estimate(value, rounds_values, n=n, what=f"{what}; resampling {resampled}", seed=seed)
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
    outcomes = _as_outcomes(outcome)
    clusters = _as_labels(cluster, name="cluster") if cluster is not None else None
    _check_lengths(p_a=probabilities, outcome=outcomes, cluster=clusters)
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
    rounds_values = _bootstrap_rounds(statistic, unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed)
    return _percentile_estimate(value, rounds_values, n=n, what=what, seed=seed)


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
        ("brier", _ratio_statistic(squared, np.ones(n)), f"Brier score, {tie_note}"),
        ("log_loss", _ratio_statistic(losses, np.ones(n)), f"log-loss (natural log), {tie_note}"),
        ("ece", ece_statistic, f"expected calibration error, {n_bins} equal-width bins, {tie_note}"),
    ):
        value = float(statistic(np.ones((1, n)))[0])
        rounds_values = _bootstrap_rounds(statistic, unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed)
        figures[name] = _percentile_estimate(value, rounds_values, n=n, what=what, seed=seed)
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
    outcomes = _as_outcomes(outcome)
    groups = _as_labels(group, name="group").astype(str)
    second = _as_labels(also_group, name="also_group").astype(str) if also_group is not None else None
    clusters = _as_labels(cluster, name="cluster") if cluster is not None else None
    _check_lengths(p_a=probabilities, outcome=outcomes, group=groups, also_group=second, cluster=clusters)
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
    _check_lengths(rating_a=first, rating_b=second)
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
    rounds_values = _bootstrap_rounds(
        _ratio_statistic(difference, np.ones(n)), unit_of_row=unit_of_row, n_units=n_units, rounds=rounds, seed=seed
    )
    return _percentile_estimate(value, rounds_values, n=n, what=f"{what}; paired", seed=seed)


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
        outcomes_raw = _as_outcomes(outcome)
        prior_all = rating_prior_probability(rating_a=rating_a, rating_b=rating_b)
        _check_lengths(outcome=outcomes_raw, rating_a=prior_all)
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
    systems = _as_labels(system, name="system").astype(str)
    rewards = _as_float_array(reward, name="reward")
    _check_lengths(system=systems, reward=rewards)
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
    half = _z_value() * math.sqrt(variance_numerator / (n - offset))
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


# --------------------------------------------------------------------------------------------------------------
# People versus people.


def pair_votes_normalise(
    *, clip_a: ArrayLike, clip_b: ArrayLike, outcome: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Item key and choice per vote with the pair put in a fixed order, so "a" always means the smaller clip id.

    The same two clips shown either way round become one item; a vote for A shown second becomes "b". Other labels
    (tie, both_bad) stay as they are.
    """
    first = _as_labels(clip_a, name="clip_a").astype(str)
    second = _as_labels(clip_b, name="clip_b").astype(str)
    outcomes = _as_outcomes(outcome)
    _check_lengths(clip_a=first, clip_b=second, outcome=outcomes)
    swapped = first > second
    low = np.where(swapped, second, first)
    high = np.where(swapped, first, second)
    items = np.array([f"{one}|{two}" for one, two in zip(low, high, strict=True)], dtype=object)
    flipped = np.where(outcomes == "a", "b", np.where(outcomes == "b", "a", outcomes))
    return items, np.where(swapped, flipped, outcomes).astype(object)


def _within_item_agreement(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1)
    return (counts * (counts - 1)).sum(axis=1) / (totals * (totals - 1))


def _pairwise_statistic(counts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return _ratio_statistic(_within_item_agreement(counts), np.ones(len(counts)))


def _fleiss_statistic(counts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    agreement = _within_item_agreement(counts)
    totals = counts.sum(axis=1)

    def statistic(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            observed = (weights @ agreement) / weights.sum(axis=1)
            shares = (weights @ counts) / (weights @ totals)[:, None]
            chance = (shares**2).sum(axis=1)
            return np.where(chance < 1.0, (observed - chance) / (1.0 - chance), np.nan)

    return statistic


def _krippendorff_statistic(counts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    totals = counts.sum(axis=1)
    disagreement = (totals**2 - (counts**2).sum(axis=1)) / (totals - 1)

    def statistic(weights: np.ndarray) -> np.ndarray:
        values_by_category = weights @ counts
        n = values_by_category.sum(axis=1)
        expected = n**2 - (values_by_category**2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(expected > 0, 1.0 - (n - 1) * (weights @ disagreement) / expected, np.nan)

    return statistic


def _majority_credits(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item: summed leave-one-out credit and number of votes scored (items with >= 3 votes only)."""
    totals = counts.sum(axis=1)
    n_categories = counts.shape[1]
    credit = np.zeros(len(counts))
    for category in range(n_categories):
        others = counts.copy()
        others[:, category] -= 1
        top = others.max(axis=1)
        tied = (others == top[:, None]).sum(axis=1)
        wins = others[:, category] == top
        credit += np.where(counts[:, category] > 0, counts[:, category] * wins / tied, 0.0)
    scored = totals >= 3
    return np.where(scored, credit, 0.0), np.where(scored, totals, 0.0)


def fleiss_kappa_from_counts(counts: ArrayLike) -> float | None:
    """Fleiss' kappa from an items x categories count table; items may have different numbers of votes.

    Observed agreement is the mean over items of the share of agreeing vote pairs within the item; chance agreement
    uses category shares pooled over all votes. With equal counts per item this is exactly Fleiss (1971).
    """
    table = _count_table(counts)
    return _float_or_none(_fleiss_statistic(table)(np.ones((1, len(table))))[0])


def krippendorff_alpha_from_counts(counts: ArrayLike) -> float | None:
    """Krippendorff's alpha (nominal) from an items x categories count table; items with one value are not pairable."""
    table = _count_table(counts)
    return _float_or_none(_krippendorff_statistic(table)(np.ones((1, len(table))))[0])


def _count_table(counts: ArrayLike) -> np.ndarray:
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2:
        raise AgreementInputError(f"counts must be items x categories, got shape {table.shape}.")
    if np.any(table < 0) or not np.all(np.isfinite(table)):
        raise AgreementInputError("counts must be finite and non-negative.")
    return table[table.sum(axis=1) >= 2]


def _cohen_statistic(cells: np.ndarray, n_categories: int) -> Callable[[np.ndarray], np.ndarray]:
    """Cohen's kappa from one confusion cell per row (first rater's category * C + second's), batched over weights."""
    one_hot = sparse.csr_matrix(
        (np.ones(len(cells)), (np.arange(len(cells)), cells)), shape=(len(cells), n_categories**2)
    )

    def statistic(weights: np.ndarray) -> np.ndarray:
        confusion = np.asarray((one_hot.T @ weights.T).T).reshape(-1, n_categories, n_categories)
        return _kappa_from_confusion(confusion)

    return statistic


def _kappa_from_confusion(confusion: np.ndarray) -> np.ndarray:
    total = confusion.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.trace(confusion, axis1=-2, axis2=-1) / total
        chance = (confusion.sum(axis=-1) * confusion.sum(axis=-2)).sum(axis=-1) / total**2
        return np.where((chance < 1.0) & (total > 0), (observed - chance) / (1.0 - chance), np.nan)


def _light_statistic(
    entry_item: np.ndarray, entry_pair: np.ndarray, entry_cell: np.ndarray, n_pairs: int, n_categories: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Mean over rater pairs of each pair's Cohen's kappa on the items both rated (Light 1971), batched over weights."""
    columns = entry_pair * n_categories**2 + entry_cell
    membership = sparse.csr_matrix(
        (np.ones(len(columns)), (np.arange(len(columns)), columns)), shape=(len(columns), n_pairs * n_categories**2)
    )

    def statistic(item_weights: np.ndarray) -> np.ndarray:
        entry_weights = item_weights[:, entry_item]
        confusion = np.asarray((membership.T @ entry_weights.T).T).reshape(-1, n_pairs, n_categories, n_categories)
        kappas = _kappa_from_confusion(confusion)
        finite = np.isfinite(kappas)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(finite.any(axis=1), np.where(finite, kappas, 0.0).sum(axis=1) / finite.sum(axis=1), np.nan)

    return statistic


def _item_estimate(
    statistic: Callable[[np.ndarray], np.ndarray], *, n_items: int, rounds: int, seed: int, what: str, n: int,
    empty_reason: str, undefined_reason: str,
) -> Estimate:
    if n_items == 0 or n == 0:
        return Estimate(None, None, None, n, what, reason=empty_reason)
    value = _float_or_none(statistic(np.ones((1, n_items)))[0])
    if value is None:
        return Estimate(None, None, None, n, what, reason=undefined_reason)
    rounds_values = _bootstrap_rounds(
        statistic, unit_of_row=np.arange(n_items), n_units=n_items, rounds=rounds, seed=seed
    )
    return _percentile_estimate(value, rounds_values, n=n, what=f"{what}; resampling items", seed=seed)


_NO_PAIRS = "no item has 2 or more votes"
_ONE_CATEGORY = "undefined: every vote is in the same category"


def _pairwise_estimate(table: np.ndarray, *, rounds: int, seed: int) -> Estimate:
    return _item_estimate(
        _pairwise_statistic(table), n_items=len(table), rounds=rounds, seed=seed, n=len(table),
        what="share of agreeing vote pairs, mean over items", empty_reason=_NO_PAIRS, undefined_reason=_NO_PAIRS,
    )


def _fleiss_estimate(table: np.ndarray, *, rounds: int, seed: int) -> Estimate:
    return _item_estimate(
        _fleiss_statistic(table), n_items=len(table), rounds=rounds, seed=seed, n=len(table),
        what="Fleiss' kappa, variable votes per item", empty_reason=_NO_PAIRS, undefined_reason=_ONE_CATEGORY,
    )


def _krippendorff_estimate(table: np.ndarray, *, rounds: int, seed: int) -> Estimate:
    return _item_estimate(
        _krippendorff_statistic(table), n_items=len(table), rounds=rounds, seed=seed, n=len(table),
        what="Krippendorff's alpha, nominal", empty_reason=_NO_PAIRS, undefined_reason=_ONE_CATEGORY,
    )


def _majority_estimate(table: np.ndarray, *, rounds: int, seed: int) -> Estimate:
    credit, scored = _majority_credits(table)
    no_triples = "no item has 3 or more votes"
    return _item_estimate(
        _ratio_statistic(credit, scored), n_items=len(table), rounds=rounds, seed=seed, n=int((scored > 0).sum()),
        what="leave-one-out majority agreement, items with >= 3 votes, a tied majority of k labels earns 1/k",
        empty_reason=no_triples, undefined_reason=no_triples,
    )


def rater_agreement_from_counts(
    counts: ArrayLike,
    *,
    categories: Sequence[str] | None = None,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> RaterAgreement:
    """People-versus-people figures from an items x categories count table (what one SQL GROUP BY gives).

    Items with fewer than 2 votes are dropped. Each figure's n is the number of items it uses; its interval comes
    from resampling items. Leave-one-out majority agreement scores each vote on an item with >= 3 votes against the
    majority of the item's other votes; when the others tie for the majority the vote earns 1/k if it is one of the k
    tied labels (a fair random tie-break, in expectation), else 0; its n is the number of items with >= 3 votes.
    Cohen's and Light's kappa need to know who voted, so only `rater_agreement` gives them.
    """
    table = _count_table(counts)
    labels = [str(c) for c in categories] if categories is not None else [str(i) for i in range(table.shape[1])]
    if len(labels) != table.shape[1]:
        raise AgreementInputError(f"{len(labels)} category names for {table.shape[1]} columns.")
    return RaterAgreement(
        categories=labels,
        n_items=len(table),
        n_votes=int(table.sum()),
        pairwise_agreement=_pairwise_estimate(table, rounds=rounds, seed=seed),
        fleiss_kappa=_fleiss_estimate(table, rounds=rounds, seed=seed),
        krippendorff_alpha=_krippendorff_estimate(table, rounds=rounds, seed=seed),
        majority_agreement=_majority_estimate(table, rounds=rounds, seed=seed),
    )


@dataclass(frozen=True)
class _VoteTable:
    """Votes on items with >= 2 votes: the count table, and each vote's item and category sorted by item, stably."""

    counts: np.ndarray
    categories: list[str]
    vote_item: np.ndarray
    vote_category: np.ndarray
    vote_rater: np.ndarray | None


def _vote_table(
    item: ArrayLike, choice: ArrayLike, rater: ArrayLike | None, categories: Sequence[str] | None
) -> _VoteTable:
    items = _as_labels(item, name="item").astype(str)
    choices = _as_labels(choice, name="choice").astype(str)
    raters = _as_labels(rater, name="rater").astype(str) if rater is not None else None
    _check_lengths(item=items, choice=choices, rater=raters)
    labels = sorted(set(choices.tolist())) if categories is None else [str(c) for c in categories]
    unknown = set(choices.tolist()) - set(labels)
    if unknown:
        raise AgreementInputError(f"Choices {sorted(unknown)} are not among the categories {labels}.")
    lookup = {label: index for index, label in enumerate(labels)}
    category_of_vote = np.array([lookup[value] for value in choices.tolist()], dtype=int)
    _, item_of_vote = np.unique(items, return_inverse=True)
    item_of_vote = item_of_vote.reshape(-1)
    votes_per_item = np.bincount(item_of_vote)
    renumber = np.cumsum(votes_per_item >= 2) - 1
    kept = votes_per_item[item_of_vote] >= 2
    vote_item = renumber[item_of_vote[kept]]
    # A stable sort keeps the caller's order within each item, so an item's first rows are its first votes.
    order = np.argsort(vote_item, kind="stable")
    vote_item = vote_item[order]
    vote_category = category_of_vote[kept][order]
    counts = np.zeros((int((votes_per_item >= 2).sum()), len(labels)))
    np.add.at(counts, (vote_item, vote_category), 1.0)
    return _VoteTable(counts, labels, vote_item, vote_category, raters[kept][order] if raters is not None else None)


def _cohen_estimate(votes: _VoteTable, *, rounds: int, seed: int) -> Estimate:
    n_items, n_categories = votes.counts.shape
    first_row = np.searchsorted(votes.vote_item, np.arange(n_items))
    cells = votes.vote_category[first_row] * n_categories + votes.vote_category[first_row + 1]
    return _item_estimate(
        _cohen_statistic(cells, n_categories), n_items=n_items, rounds=rounds, seed=seed, n=n_items,
        what="Cohen's kappa, first vs second vote on each item",
        empty_reason=_NO_PAIRS, undefined_reason="undefined: both raters used one category only",
    )


def _light_estimate(votes: _VoteTable, *, min_shared_items: int, rounds: int, seed: int) -> tuple[Estimate, int]:
    if votes.vote_rater is None:
        raise AgreementInputError("Light's kappa needs rater labels.")
    n_items, n_categories = votes.counts.shape
    first_vote: dict[tuple[int, str], int] = {}
    for item_index, category, rater_label in zip(
        votes.vote_item.tolist(), votes.vote_category.tolist(), votes.vote_rater.tolist(), strict=True
    ):
        first_vote.setdefault((item_index, rater_label), category)
    by_item: dict[int, list[tuple[str, int]]] = {}
    for (item_index, rater_label), category in first_vote.items():
        by_item.setdefault(item_index, []).append((rater_label, category))
    entries: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for item_index, item_votes in by_item.items():
        item_votes.sort()
        for left in range(len(item_votes)):
            for right in range(left + 1, len(item_votes)):
                (rater_1, category_1), (rater_2, category_2) = item_votes[left], item_votes[right]
                entries.setdefault((rater_1, rater_2), []).append((item_index, category_1 * n_categories + category_2))
    pairs = [pair for pair in sorted(entries) if len(entries[pair]) >= min_shared_items]
    what = f"Light's kappa: mean Cohen's kappa over rater pairs sharing >= {min_shared_items} items"
    if not pairs:
        return Estimate(None, None, None, 0, what, reason=f"no two raters share {min_shared_items} items"), 0
    entry_item = np.array([entry[0] for pair in pairs for entry in entries[pair]], dtype=int)
    entry_cell = np.array([entry[1] for pair in pairs for entry in entries[pair]], dtype=int)
    entry_pair = np.repeat(np.arange(len(pairs)), [len(entries[pair]) for pair in pairs])
    estimate = _item_estimate(
        _light_statistic(entry_item, entry_pair, entry_cell, len(pairs), n_categories),
        n_items=n_items, rounds=rounds, seed=seed, n=len(set(entry_item.tolist())), what=what,
        empty_reason=_NO_PAIRS, undefined_reason="undefined: every rater pair used one category only",
    )
    return estimate, len(pairs)


def rater_agreement(
    *,
    item: ArrayLike,
    choice: ArrayLike,
    rater: ArrayLike | None = None,
    categories: Sequence[str] | None = None,
    min_shared_items: int = MIN_SHARED_ITEMS,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> RaterAgreement:
    """People-versus-people figures from one row per vote: the item (see `pair_votes_normalise`) and the choice.

    Labels are taken as given (pass both_bad through or filter it first; that is the caller's call). Cohen's kappa
    treats the first and second vote on each item, in the order given (order by time upstream), as two raters.
    With `rater`, Light's kappa is the mean Cohen's kappa over rater pairs who share >= min_shared_items items
    (a rater's first vote counts if they voted on an item twice). See `rater_agreement_from_counts` for the rest.
    """
    votes = _vote_table(item, choice, rater, categories)
    report = rater_agreement_from_counts(votes.counts, categories=votes.categories, rounds=rounds, seed=seed)
    light: Estimate | None = None
    n_rater_pairs = 0
    notes: list[str] = []
    if votes.vote_rater is not None:
        light, n_rater_pairs = _light_estimate(votes, min_shared_items=min_shared_items, rounds=rounds, seed=seed)
        if n_rater_pairs == 0:
            notes.append(f"no two raters share {min_shared_items} items, so Light's kappa is not given")
    return dataclasses.replace(
        report,
        cohen_kappa=_cohen_estimate(votes, rounds=rounds, seed=seed),
        light_kappa=light,
        n_rater_pairs=n_rater_pairs,
        notes=notes,
    )


def pairwise_agreement(
    *, item: ArrayLike, choice: ArrayLike, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> Estimate:
    """Share of agreeing vote pairs within an item, averaged over items with >= 2 votes."""
    return _pairwise_estimate(_vote_table(item, choice, None, None).counts, rounds=rounds, seed=seed)


def fleiss_kappa(*, item: ArrayLike, choice: ArrayLike, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> Estimate:
    """Fleiss' kappa over items with >= 2 votes (see `fleiss_kappa_from_counts` for unequal counts)."""
    return _fleiss_estimate(_vote_table(item, choice, None, None).counts, rounds=rounds, seed=seed)


def krippendorff_alpha(
    *, item: ArrayLike, choice: ArrayLike, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> Estimate:
    """Krippendorff's alpha (nominal); a missing rating is just an absent row, and one-vote items are not pairable."""
    return _krippendorff_estimate(_vote_table(item, choice, None, None).counts, rounds=rounds, seed=seed)


def majority_agreement(
    *, item: ArrayLike, choice: ArrayLike, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> Estimate:
    """Leave-one-out majority agreement (see `rater_agreement_from_counts` for how tied majorities score)."""
    return _majority_estimate(_vote_table(item, choice, None, None).counts, rounds=rounds, seed=seed)


def cohen_kappa(*, item: ArrayLike, choice: ArrayLike, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> Estimate:
    """Cohen's kappa of the first against the second vote on each item with >= 2 votes, in the order given."""
    return _cohen_estimate(_vote_table(item, choice, None, None), rounds=rounds, seed=seed)


def light_kappa(
    *, item: ArrayLike, choice: ArrayLike, rater: ArrayLike, min_shared_items: int = MIN_SHARED_ITEMS,
    rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
) -> Estimate:
    """Light's kappa: Cohen's kappa averaged over rater pairs sharing >= min_shared_items items."""
    votes = _vote_table(item, choice, rater, None)
    return _light_estimate(votes, min_shared_items=min_shared_items, rounds=rounds, seed=seed)[0]


def anchoring_effect(
    *, suggestion: ArrayLike, outcome: ArrayLike, shown: ArrayLike, include_ties: bool = False
) -> AnchoringEffect:
    """Agreement with the model's suggested side when shown minus when hidden, with Newcombe's interval.

    Agreement means the vote picked the suggested side. Ties and both_bad are left out by default (they neither
    follow nor resist the suggestion); include_ties=True counts them as not agreeing. The p-value is the two-sided
    pooled two-proportion z test.
    """
    suggestions = _as_outcomes(suggestion)
    if not set(suggestions.tolist()) <= {"a", "b"}:
        raise AgreementInputError('suggestion must be "a" or "b".')
    outcomes = _as_outcomes(outcome)
    was_shown = np.asarray(shown, dtype=bool)
    _check_lengths(suggestion=suggestions, outcome=outcomes, shown=was_shown)
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
