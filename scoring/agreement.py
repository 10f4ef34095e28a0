"""How well people agree with each other, and the intervals and bootstrap every agreement figure is built from.

People versus people on items (pairs of clips, order-normalised): agreeing vote pairs, Fleiss' kappa, Krippendorff's
alpha, leave-one-out majority agreement, Cohen's and Light's kappa; campaigns use it for rater quality, the agreement
report for the ceiling the reward model is held to (reward.ml.agreement builds on the shared pieces here).
Pure numpy/scipy (no Django): arrays in, plain dataclasses out; every figure carries a 95% interval and n.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 2000
MIN_BOOTSTRAP_ROUNDS = 1000
MIN_SHARED_ITEMS = 5
OUTCOMES = ("a", "b", "tie", "both_bad")

# Bootstrap weight matrices are built in chunks of at most this many cells, so memory stays flat with many votes.
_BOOTSTRAP_CELLS = 2_000_000

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


# --------------------------------------------------------------------------------------------------------------
# Shared pieces: validation, intervals, the vectorised bootstrap.


def as_outcomes(values: ArrayLike) -> np.ndarray:
    """One-dimensional vote outcomes as strings, each one of OUTCOMES."""
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise AgreementInputError(f"outcome must be one-dimensional, got shape {array.shape}.")
    array = np.array([str(value) for value in array], dtype=object)
    unknown = sorted(set(array.tolist()) - set(OUTCOMES))
    if unknown:
        raise AgreementInputError(f"Unknown outcomes {unknown}; expected one of {list(OUTCOMES)}.")
    return array


def as_labels(values: ArrayLike, *, name: str) -> np.ndarray:
    """One-dimensional labels (items, raters, clusters, groups) as an object array, taken as given."""
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise AgreementInputError(f"{name} must be one-dimensional, got shape {array.shape}.")
    return array


def check_lengths(**arrays: np.ndarray | None) -> int:
    """The common length of the arrays given (None ones are skipped), or AgreementInputError naming each length."""
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


def z_value() -> float:
    """The two-sided normal quantile for CONFIDENCE (1.96 for 95%)."""
    return float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


def wilson_interval(successes: float, n: float) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; fractional successes (half credits) are accepted. None when n is 0."""
    if n <= 0:
        return None
    z = z_value()
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


def bootstrap_rounds(
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


def percentile_estimate(
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


def ratio_statistic(numerator: np.ndarray, denominator: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Weighted sum of `numerator` over weighted sum of `denominator`, per row of weights (see bootstrap_rounds)."""

    def statistic(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights @ numerator) / (weights @ denominator)

    return statistic


# --------------------------------------------------------------------------------------------------------------
# People versus people.


def pair_votes_normalise(
    *, clip_a: ArrayLike, clip_b: ArrayLike, outcome: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Item key and choice per vote with the pair put in a fixed order, so "a" always means the smaller clip id.

    The same two clips shown either way round become one item; a vote for A shown second becomes "b". Other labels
    (tie, both_bad) stay as they are.
    """
    first = as_labels(clip_a, name="clip_a").astype(str)
    second = as_labels(clip_b, name="clip_b").astype(str)
    outcomes = as_outcomes(outcome)
    check_lengths(clip_a=first, clip_b=second, outcome=outcomes)
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
    return ratio_statistic(_within_item_agreement(counts), np.ones(len(counts)))


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
    rounds_values = bootstrap_rounds(
        statistic, unit_of_row=np.arange(n_items), n_units=n_items, rounds=rounds, seed=seed
    )
    return percentile_estimate(value, rounds_values, n=n, what=f"{what}; resampling items", seed=seed)


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
        ratio_statistic(credit, scored), n_items=len(table), rounds=rounds, seed=seed, n=int((scored > 0).sum()),
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
    items = as_labels(item, name="item").astype(str)
    choices = as_labels(choice, name="choice").astype(str)
    raters = as_labels(rater, name="rater").astype(str) if rater is not None else None
    check_lengths(item=items, choice=choices, rater=raters)
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
