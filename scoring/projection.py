"""Votes still needed: how many more votes, at the current mix of pairs, until two systems' 95% intervals separate.

The Fisher information of Bradley–Terry log-strengths grows in proportion to the votes when the mix of pairs stays
the same: after m more votes on top of n it is (n + m) / n times today's, plus the unchanged prior. Each system's
interval half-width is z times its standard error (of the rating centred on the board's mean, as shown); the pair
separates once the gap between the two ratings exceeds the upper system's lower half-width plus the lower
system's upper half-width, in whichever order the ratings then stand. The estimated gap meanwhile moves towards a
true gap that is itself only known to within today's standard error; the projection is the median first passage
over futures simulated that way. Pure numpy, like scoring.ratings.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit
from scipy.stats import norm

from scoring.ratings import ELO_PER_LOGIT

# Simulated futures, and the grid of further vote counts (geometric, about 1% apart up to 100,000) on which
# each future is checked for separation.
_PATHS = 1000
_GRID_POINTS = 1200

__all__ = ["Separation", "SeparationStatus", "bt_information", "interval_half_widths", "votes_to_separate"]


class SeparationStatus(enum.StrEnum):
    SEPARATED = "separated"
    PROJECTED = "projected"
    BEYOND_BUDGET = "beyond_budget"


@dataclass(frozen=True)
class Separation:
    """Further votes until the pair's intervals separate: 0 when they already do, None beyond the budget."""

    votes: int | None
    status: SeparationStatus

    @property
    def reason(self) -> str:
        if self.status == SeparationStatus.BEYOND_BUDGET:
            return "too close to separate within budget"
        return "already separated" if self.status == SeparationStatus.SEPARATED else "projected"


def bt_information(theta: ArrayLike, battles: ArrayLike) -> NDArray[np.float64]:
    """Fisher information of Bradley–Terry log-strengths: sum over pairs of n_ij p_ij (1 - p_ij) (e_i - e_j)(e_i -
    e_j)^T, with battles[i, j] = n_ij the decided votes between i and j (symmetric; a tie counts as one vote of
    two halves, whose information is the same)."""
    strengths = np.asarray(theta, dtype=np.float64)
    counts = np.asarray(battles, dtype=np.float64)
    if counts.shape != (strengths.size, strengths.size):
        raise ValueError(f"battles must be {strengths.size} x {strengths.size}, got {counts.shape}")
    if not np.allclose(counts, counts.T):
        raise ValueError("battles must be symmetric")
    p = expit(strengths[:, None] - strengths[None, :])
    weight = counts * p * (1.0 - p)
    np.fill_diagonal(weight, 0.0)
    return np.diag(weight.sum(axis=1)) - weight


class _Spectrum:
    """Centred variances of every system for any multiple k of the information: V_i(k) = sum_t U_it^2 / (k l_t +
    prior), from one eigendecomposition (U: the eigenvectors with the mean taken out of each system's share)."""

    def __init__(self, information: NDArray[np.float64], prior: float) -> None:
        n = information.shape[0]
        values, vectors = np.linalg.eigh(0.5 * (information + information.T))
        self.values = np.clip(values, 0.0, None)
        centred = vectors - vectors.mean(axis=0, keepdims=True)
        self.vectors = vectors
        self.weights = centred**2
        # The direction of the constant vector is invisible to centred ratings; any other direction the votes do
        # not inform (a disconnected board) leaves its variance at 1 / prior, or infinite without a prior.
        self.weights[self.weights < 1e-12 * max(n, 1)] = 0.0
        self.prior = prior

    def gap_variance(self, first: NDArray[np.int64], second: NDArray[np.int64]) -> NDArray[np.float64]:
        """Variance of theta_first - theta_second today (k = 1)."""
        difference = (self.vectors[first] - self.vectors[second]) ** 2
        difference[difference < 1e-12] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(difference > 0.0, difference / (self.values + self.prior), 0.0)
        return terms.sum(axis=1)

    def variance(self, systems: NDArray[np.int64], k: NDArray[np.float64]) -> NDArray[np.float64]:
        denominator = k[:, None] * self.values[None, :] + self.prior
        weights = self.weights[systems]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(weights > 0.0, weights / denominator, 0.0)
        return terms.sum(axis=1)


def interval_half_widths(
    information: ArrayLike, *, prior: float, level: float = 0.95
) -> NDArray[np.float64]:
    """z times each system's standard error on the Elo scale, centred ratings (the Wald intervals this projects)."""
    matrix = np.asarray(information, dtype=np.float64)
    spectrum = _Spectrum(matrix, prior)
    systems = np.arange(matrix.shape[0])
    z = float(norm.ppf(0.5 + level / 2.0))
    return z * ELO_PER_LOGIT * np.sqrt(spectrum.variance(systems, np.ones(systems.size)))


def votes_to_separate(
    *,
    rating: ArrayLike,
    information: ArrayLike,
    pairs: ArrayLike,
    votes: int,
    prior: float,
    budget: int,
    level: float = 0.95,
    shown_width: ArrayLike | None = None,
    seed: int = 0,
) -> list[Separation]:
    """For each (upper, lower) pair of system indices, the further votes m <= budget, at the current mix, after
    which the two systems' intervals no longer overlap (the median over simulated futures; in either order, as the
    board re-ranks its rows).

    rating: Elo-scale ratings; information: Fisher information of the log-strengths from today's `votes` votes
    (no prior); prior: precision of the Gaussian prior on the log-strengths, which does not grow with votes.
    shown_width: for each pair, the width the board shows today (upper system's lower half-width plus lower
    system's upper half-width, e.g. of bootstrap percentile intervals); when given, "separated" means separated on
    the board, and the projected width is today's shown width shrunk as the Fisher width shrinks. Without it the
    Fisher (Wald) intervals stand for the board's. A pair whose upper rating is not above the lower one's, or that
    needs more than `budget` votes, is beyond the budget.
    """
    ratings = np.asarray(rating, dtype=np.float64)
    matrix = np.asarray(information, dtype=np.float64)
    index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if matrix.shape != (ratings.size, ratings.size):
        raise ValueError(f"information must be {ratings.size} x {ratings.size}, got {matrix.shape}")
    if votes < 1:
        raise ValueError(f"votes must be at least 1 (the information of no votes does not scale), got {votes}")
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    if not (math.isfinite(prior) and prior >= 0.0):
        raise ValueError(f"prior must be a finite number >= 0, got {prior}")
    if index.size and (index.min() < 0 or index.max() >= ratings.size):
        raise ValueError("a pair names a system out of range")
    if not index.size:
        return []
    spectrum = _Spectrum(matrix, prior)
    z = float(norm.ppf(0.5 + level / 2.0))
    upper, lower = index[:, 0], index[:, 1]
    gap = ratings[upper] - ratings[lower]

    def fisher_width(m: NDArray[np.float64]) -> NDArray[np.float64]:
        k = (votes + m) / votes
        return z * ELO_PER_LOGIT * (np.sqrt(spectrum.variance(upper, k)) + np.sqrt(spectrum.variance(lower, k)))

    today = fisher_width(np.zeros(len(index)))
    if shown_width is None:
        scale = np.ones(len(index))
        width_now = today
    else:
        width_now = np.asarray(shown_width, dtype=np.float64).reshape(-1)
        if width_now.size != len(index):
            raise ValueError(f"shown_width has {width_now.size} entries for {len(index)} pairs")
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(today > 0, width_now / today, 1.0)
    already = (gap > width_now) & np.isfinite(gap)
    todo = np.flatnonzero(~already & (gap > 0) & np.isfinite(gap))
    passage = np.full(len(index), np.inf)
    if todo.size and budget > 0:
        further = np.unique(np.rint(np.geomspace(1.0, float(budget), _GRID_POINTS)))
        k = (votes + further) / votes
        # The estimated gap after m more votes is (n g + S_m) / (n + m), S_m the sum of the m new votes' per-vote
        # gaps: m times the true gap plus a random walk whose per-vote variance is n V, V the gap's variance
        # today. The true gap is not today's estimate but lies about it with variance V (the posterior of the
        # same Fisher matrix), so the gap moves by sqrt(V) (sqrt(n) W(m) + m Z) / (n + m), W a standard walk and
        # Z a standard normal drawn once per future: with V small next to the widths this is a walk around
        # today's gap; with V large (a uniform mix, where the gap is known little better than either rating)
        # the futures also drift apart, as the boards that share today's estimate do. The projection is the
        # median, over the simulated futures, of the first m at which the intervals no longer overlap, in
        # either order (as the board, which orders its rows by rating, sees it). Every pair reuses the same
        # standard paths (only their scale differs), drawn once.
        generator = np.random.default_rng(seed)
        steps = np.sqrt(np.diff(np.concatenate([[0.0], further])))
        walks = np.cumsum(generator.standard_normal((_PATHS, further.size)) * steps, axis=1)
        walks += generator.standard_normal((_PATHS, 1)) * further / math.sqrt(votes)
        highest, lowest = walks.max(axis=0), walks.min(axis=0)
        spread = np.sqrt(spectrum.gap_variance(upper[todo], lower[todo]) * votes) * ELO_PER_LOGIT
        for position, pair in enumerate(todo.tolist()):
            boundary = scale[pair] * z * ELO_PER_LOGIT * (
                np.sqrt(spectrum.variance(np.full(further.size, upper[pair]), k))
                + np.sqrt(spectrum.variance(np.full(further.size, lower[pair]), k)))
            # |gap + spread * path / (n + m)| > boundary, solved for the path: above `rise` or below `fall`.
            with np.errstate(divide="ignore", invalid="ignore"):
                rise = (boundary - gap[pair]) * (votes + further) / spread[position]
                fall = (-boundary - gap[pair]) * (votes + further) / spread[position]
            # Only grid points where some path clears a bar can hold a first passage: the rest are skipped.
            candidates = np.flatnonzero((rise < highest) | (fall > lowest))
            if not candidates.size:  # no simulated future separates them within the budget
                continue
            chosen = walks[:, candidates]
            crossed = (chosen > rise[candidates]) | (chosen < fall[candidates])
            first = np.where(crossed.any(axis=1), further[candidates][np.argmax(crossed, axis=1)], np.inf)
            passage[pair] = np.median(first)
    result = []
    for i in range(len(index)):
        if already[i]:
            result.append(Separation(0, SeparationStatus.SEPARATED))
        elif passage[i] <= budget:
            result.append(Separation(int(math.ceil(passage[i])), SeparationStatus.PROJECTED))
        else:
            result.append(Separation(None, SeparationStatus.BEYOND_BUDGET))
    return result
