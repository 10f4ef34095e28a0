"""Ratings from pairwise votes: pair counts, Bradley–Terry (ties, covariates), batched bootstrap CIs and online Elo.

Pure numpy/scipy, arrays in and arrays out, so it is tested and benchmarked without Django.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit, logsumexp

__all__ = [
    "DEFAULT_LEADERBOARD_PRIOR",
    "ELO_INITIAL",
    "ELO_PER_LOGIT",
    "BootstrapRatings",
    "BTFit",
    "CovariateFit",
    "Leaderboard",
    "Outcome",
    "PairCounts",
    "TieModel",
    "bootstrap_ratings",
    "bt_covariate_fit",
    "bt_fit",
    "elo_from_theta",
    "leaderboard",
    "online_elo",
    "outcome_codes",
    "percentile_intervals",
    "ranks_from_intervals",
]


class Outcome(IntEnum):
    """Overall choice of one vote, stored as a small int in battle-row arrays."""

    A = 0
    B = 1
    TIE = 2
    BOTH_BAD = 3


TieModel = Literal["half", "davidson", "rao-kupper"]

ELO_INITIAL = 1000.0
# Elo points per unit of Bradley–Terry log-odds: 400 * log10(odds) = 400 / ln(10) * theta.
ELO_PER_LOGIT = 400.0 / math.log(10.0)
# Ridge on the log-strengths used by `leaderboard`: a prior sd of 10 logits (~1,700 Elo points) keeps an
# undefeated or isolated system finite while moving any system with a few dozen battles by well under a point.
DEFAULT_LEADERBOARD_PRIOR = 0.01

_OUTCOME_NAMES = {"a": 0, "model_a": 0, "b": 1, "model_b": 1, "tie": 2, "both_bad": 3, "tie (bothbad)": 3}
_TIE_MODELS = ("half", "davidson", "rao-kupper")
# Largest number of float64 cells (replicas x pairs or replicas x systems^2) a bootstrap chunk holds at once.
_CHUNK_CELLS = 1 << 22


# ---------------------------------------------------------------------------------------------------------------
# Input checking


def _int_vector(name: str, values: ArrayLike) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{name} must hold whole numbers")
    return array.astype(np.int64, copy=False)


def _same_length(**arrays: NDArray[Any]) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise ValueError(f"battle arrays differ in length: {detail}")
    return next(iter(lengths.values()))


def _system_count(n_systems: int | None, *indices: NDArray[np.int64]) -> int:
    largest = max((int(index.max()) for index in indices if index.size), default=-1)
    if n_systems is None:
        return largest + 1
    if n_systems < 0:
        raise ValueError(f"n_systems must be non-negative, got {n_systems}")
    if largest >= n_systems:
        raise ValueError(f"system index {largest} is out of range for n_systems={n_systems}")
    return int(n_systems)


def _check_pairs(sys_a: NDArray[np.int64], sys_b: NDArray[np.int64]) -> None:
    if sys_a.size and (sys_a.min() < 0 or sys_b.min() < 0):
        raise ValueError("system indices must be non-negative")
    same = np.flatnonzero(sys_a == sys_b)
    if same.size:
        raise ValueError(f"a system cannot battle itself (row {int(same[0])}: system {int(sys_a[same[0]])})")


def _battle_rows(
    sys_a: ArrayLike, sys_b: ArrayLike, outcome: ArrayLike, n_systems: int | None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], int]:
    a = _int_vector("sys_a", sys_a)
    b = _int_vector("sys_b", sys_b)
    o = _int_vector("outcome", outcome)
    _same_length(sys_a=a, sys_b=b, outcome=o)
    _check_pairs(a, b)
    bad = np.flatnonzero((o < 0) | (o > 3))
    if bad.size:
        raise ValueError(
            f"unknown outcome code {int(o[bad[0]])} at row {int(bad[0])}; use 0=a, 1=b, 2=tie, 3=both_bad"
        )
    return a, b, o, _system_count(n_systems, a, b)


def outcome_codes(values: Iterable[str]) -> NDArray[np.int8]:
    """Map outcome names ('a', 'b', 'tie', 'both_bad'; Chatbot Arena's 'model_a' etc. too) to `Outcome` codes."""
    codes = []
    for position, value in enumerate(values):
        try:
            codes.append(_OUTCOME_NAMES[value])
        except KeyError:
            raise ValueError(f"unknown outcome {value!r} at row {position}; use a, b, tie or both_bad") from None
    return np.asarray(codes, dtype=np.int8)


# ---------------------------------------------------------------------------------------------------------------
# Pair counts


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Aggregated votes among n systems.

    wins[i, j] is how often i beat j; ties[i, j] == ties[j, i] and both_bad[i, j] == both_bad[j, i] count the
    battles between i and j that ended in a tie or that both clips lost. The arrays are read-only int64.
    """

    wins: NDArray[np.int64]
    ties: NDArray[np.int64]
    both_bad: NDArray[np.int64]

    def __post_init__(self) -> None:
        for name in ("wins", "ties", "both_bad"):
            raw = np.asarray(getattr(self, name))
            if raw.ndim != 2 or raw.shape[0] != raw.shape[1]:
                raise ValueError(f"{name} must be a square matrix, got shape {raw.shape}")
            if raw.dtype.kind not in "iuf" or (
                raw.dtype.kind == "f" and (not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)))
            ):
                raise ValueError(f"{name} must hold whole-number counts")
            if raw.size and raw.min() < 0:
                raise ValueError(f"{name} holds a negative count")
            array = np.array(raw, dtype=np.int64)
            if np.any(np.diagonal(array)):
                raise ValueError(f"{name} has a count on its diagonal: a system cannot battle itself")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        shapes = {self.wins.shape, self.ties.shape, self.both_bad.shape}
        if len(shapes) > 1:
            raise ValueError(f"wins, ties and both_bad differ in shape: {sorted(shapes)}")
        for name in ("ties", "both_bad"):
            array = getattr(self, name)
            if not np.array_equal(array, array.T):
                raise ValueError(f"{name} must be symmetric")

    @property
    def n(self) -> int:
        """Number of systems."""
        return int(self.wins.shape[0])

    @property
    def total(self) -> int:
        """Number of battles counted, every outcome included."""
        return int(self.wins.sum() + np.triu(self.ties).sum() + np.triu(self.both_bad).sum())

    @classmethod
    def empty(cls, n_systems: int) -> PairCounts:
        zeros = np.zeros((n_systems, n_systems), dtype=np.int64)
        return cls(wins=zeros, ties=zeros, both_bad=zeros)

    @classmethod
    def from_battles(
        cls, *, sys_a: ArrayLike, sys_b: ArrayLike, outcome: ArrayLike, n_systems: int | None = None
    ) -> PairCounts:
        """Count battle rows (system index of clip A, of clip B, `Outcome` code) in one vectorised pass."""
        a, b, o, n = _battle_rows(sys_a, sys_b, outcome, n_systems)
        cells = np.bincount((a * n + b) * 4 + o, minlength=n * n * 4).reshape(n, n, 4)
        ties = cells[:, :, Outcome.TIE]
        both_bad = cells[:, :, Outcome.BOTH_BAD]
        return cls(
            wins=cells[:, :, Outcome.A] + cells[:, :, Outcome.B].T,
            ties=ties + ties.T,
            both_bad=both_bad + both_bad.T,
        )

    @classmethod
    def from_grouped(
        cls,
        *,
        sys_a: ArrayLike,
        sys_b: ArrayLike,
        wins_a: ArrayLike,
        wins_b: ArrayLike,
        ties: ArrayLike,
        both_bad: ArrayLike,
        n_systems: int | None = None,
    ) -> PairCounts:
        """Build counts from GROUP BY rows (sys_a, sys_b, wins_a, wins_b, ties, both_bad).

        A pair may come back in both orders or more than once; the rows are summed.
        """
        a = _int_vector("sys_a", sys_a)
        b = _int_vector("sys_b", sys_b)
        columns = {name: _int_vector(name, values) for name, values in
                   (("wins_a", wins_a), ("wins_b", wins_b), ("ties", ties), ("both_bad", both_bad))}
        _same_length(sys_a=a, sys_b=b, **columns)
        _check_pairs(a, b)
        for name, column in columns.items():
            negative = np.flatnonzero(column < 0)
            if negative.size:
                raise ValueError(f"{name} is negative at row {int(negative[0])}: counts cannot be negative")
        n = _system_count(n_systems, a, b)

        def matrix(weights: NDArray[np.int64]) -> NDArray[np.int64]:
            return np.bincount(a * n + b, weights=weights, minlength=n * n).reshape(n, n).astype(np.int64)

        tie_matrix = matrix(columns["ties"])
        both_bad_matrix = matrix(columns["both_bad"])
        return cls(
            wins=matrix(columns["wins_a"]) + matrix(columns["wins_b"]).T,
            ties=tie_matrix + tie_matrix.T,
            both_bad=both_bad_matrix + both_bad_matrix.T,
        )

    def subset(self, systems: ArrayLike) -> PairCounts:
        """The counts among the given systems only, in the given order."""
        index = _int_vector("systems", systems)
        grid = np.ix_(index, index)
        return PairCounts(wins=self.wins[grid], ties=self.ties[grid], both_bad=self.both_bad[grid])

    def battle_matrix(self) -> NDArray[np.int64]:
        """battles[i, j]: how many battles i and j fought, every outcome included (symmetric)."""
        return self.wins + self.wins.T + self.ties + self.both_bad

    def win_rate_matrix(self, *, include_both_bad: bool = False) -> NDArray[np.float64]:
        """rate[i, j]: share of i's decided battles against j that i won, a tie counting half; NaN where none."""
        ties = self._ties(include_both_bad)
        played = (self.wins + self.wins.T + ties).astype(np.float64)
        scored = self.wins + 0.5 * ties
        return np.divide(scored, played, out=np.full(played.shape, np.nan), where=played > 0)

    def _ties(self, include_both_bad: bool) -> NDArray[np.int64]:
        return self.ties + self.both_bad if include_both_bad else self.ties


# ---------------------------------------------------------------------------------------------------------------
# Bradley–Terry on pair lists, batched over replicas
#
# Every unordered pair (i, j), i < j, with at least one counted battle is one column: w = wins of i over j,
# l = wins of j over i, t = ties. A replica is one row. The log-likelihood of a pair depends on d = theta_i -
# theta_j and, for the tie models, on one tie parameter eta shared by all pairs; Newton's method on the joint
# concave log-likelihood is assembled from the pair derivatives below. The strengths are identified up to a
# constant; the steps are kept in the sum-zero subspace by adding 11^T to the negative Hessian (it leaves the
# step unchanged on that subspace and fixes its component along 1 at zero).


@dataclass(frozen=True)
class _Pairs:
    first: NDArray[np.int64]
    second: NDArray[np.int64]
    n: int

    @property
    def incidence(self) -> sparse.csr_matrix:
        """(pairs x systems) matrix with +1 at the first system and -1 at the second."""
        count = len(self.first)
        rows = np.repeat(np.arange(count), 2)
        cols = np.column_stack([self.first, self.second]).ravel()
        values = np.tile([1.0, -1.0], count)
        return sparse.csr_matrix((values, (rows, cols)), shape=(count, self.n))


def _prepare(model: str, counts: tuple[NDArray, ...]) -> tuple[NDArray, ...]:
    """Per-pair statistics the likelihood of `model` reads, computed once per fit rather than per iteration."""
    w_ij, w_ji, t = counts
    if model == "half":
        won, lost = w_ij + 0.5 * t, w_ji + 0.5 * t
        return won, lost, won + lost
    return w_ij, w_ji, t, w_ij + w_ji + t


def _pair_terms(
    model: str, d: NDArray[np.float64], eta: NDArray[np.float64], stats: tuple[NDArray, ...], *, derivatives: bool
) -> tuple[NDArray[np.float64], ...]:
    """Per-pair log-likelihood and, if asked, its derivatives (d, dd, eta, eta-eta, d-eta)."""
    if model == "half":
        # One exp and one log per pair: log sigmoid(d) = min(d, 0) - log(1 + e) with e = exp(-|d|), and
        # log sigmoid(-d) = log sigmoid(d) - d (scipy's log_expit is several times slower at these sizes).
        won, lost, m = stats
        e = np.exp(-np.abs(d))
        one_plus = 1.0 + e
        loglik = np.minimum(d, 0.0)
        loglik -= np.log(one_plus)
        loglik *= m
        loglik -= lost * d
        if not derivatives:
            return (loglik,)
        p = np.where(d >= 0.0, 1.0, e)
        p /= one_plus
        gradient = won - m * p
        curvature = p * (1.0 - p)
        curvature *= -m
        return loglik, gradient, curvature
    w_ij, w_ji, t, m = stats
    eta = eta[:, None]
    if model == "davidson":
        # P(i) : P(j) : P(tie) = e^{d/2} : e^{-d/2} : nu, with eta = log nu.
        log_z = logsumexp(np.stack(np.broadcast_arrays(0.5 * d, -0.5 * d, eta)), axis=0)
        loglik = (w_ij - w_ji) * 0.5 * d + t * eta - m * log_z
        if not derivatives:
            return (loglik,)
        p_i, p_j, p_t = np.exp(0.5 * d - log_z), np.exp(-0.5 * d - log_z), np.exp(eta - log_z)
        return (
            loglik,
            0.5 * (w_ij - w_ji) - 0.5 * m * (p_i - p_j),
            -m * (0.25 * (p_i + p_j) - 0.25 * (p_i - p_j) ** 2),
            t - m * p_t,
            -m * p_t * (1.0 - p_t),
            0.5 * m * (p_i - p_j) * p_t,
        )
    # Rao–Kupper: P(i beats j) = sigmoid(d - eta), P(j beats i) = sigmoid(-d - eta), eta = log(theta_RK) > 0.
    # log P(tie) = log(expm1(2 eta)) - softplus(eta - d) - softplus(eta + d), concave in (d, eta).
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tie_scale = np.where(eta > 0, np.log(np.expm1(2.0 * np.maximum(eta, 1e-300))), -np.inf)
    log_a, log_b = log_expit(d - eta), log_expit(-d - eta)
    with np.errstate(invalid="ignore"):
        tie_term = np.where(t > 0, t * (log_tie_scale + log_a + log_b), 0.0)
    loglik = w_ij * log_a + w_ji * log_b + tie_term
    if not derivatives:
        return (loglik,)
    s1, s2 = expit(eta - d), expit(eta + d)
    v1, v2 = s1 * (1.0 - s1), s2 * (1.0 - s2)
    e2 = np.exp(-2.0 * eta)
    slope = 2.0 / -np.expm1(-2.0 * eta)
    curvature = -4.0 * e2 / np.expm1(-2.0 * eta) ** 2
    return (
        loglik,
        (w_ij + t) * s1 - (w_ji + t) * s2,
        -(w_ij + t) * v1 - (w_ji + t) * v2,
        -(w_ij + t) * s1 - (w_ji + t) * s2 + t * slope,
        -(w_ij + t) * v1 - (w_ji + t) * v2 + t * curvature,
        (w_ij + t) * v1 - (w_ji + t) * v2,
    )


def _loglik(
    model: str, pairs: _Pairs, theta: NDArray[np.float64], eta: NDArray[np.float64], counts: tuple[NDArray, ...],
    prior: float,
) -> NDArray[np.float64]:
    d = theta[:, pairs.first] - theta[:, pairs.second]
    (terms,) = _pair_terms(model, d, eta, counts, derivatives=False)
    loglik = terms.sum(axis=1) - 0.5 * prior * np.einsum("bi,bi->b", theta, theta)
    if model == "rao-kupper":
        # Outside eta > 0 the two win probabilities add up to more than one: no model at all.
        loglik = np.where(eta > 0, loglik, -np.inf)
    return loglik


def _newton_step(
    model: str, pairs: _Pairs, incidence: sparse.csr_matrix, theta: NDArray[np.float64], eta: NDArray[np.float64],
    counts: tuple[NDArray, ...], prior: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Newton direction for theta and eta, and the Newton decrement g.delta, per replica."""
    batch, n = theta.shape
    d = theta[:, pairs.first] - theta[:, pairs.second]
    terms = _pair_terms(model, d, eta, counts, derivatives=True)
    grad_d, curv_d = terms[1], -terms[2]
    tie_param = model != "half"
    size = n + tie_param
    hessian = np.zeros((batch, size, size))
    # Negative Hessian of theta: a graph Laplacian weighted by the pair curvatures.
    hessian[:, pairs.first, pairs.second] = -curv_d
    hessian[:, pairs.second, pairs.first] = -curv_d
    diagonal = np.asarray(abs(incidence).T @ curv_d.T).T
    block = hessian[:, :n, :n]
    block += np.mean(diagonal, axis=1)[:, None, None] / n + 1e-12
    index = np.arange(n)
    hessian[:, index, index] += diagonal + prior
    gradient = np.empty((batch, size))
    gradient[:, :n] = np.asarray(incidence.T @ grad_d.T).T - prior * theta
    if tie_param:
        gradient[:, n] = terms[3].sum(axis=1)
        hessian[:, n, n] = -terms[4].sum(axis=1)
        cross = -np.asarray(incidence.T @ terms[5].T).T
        hessian[:, :n, n] = cross
        hessian[:, n, :n] = cross
    step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
    return step[:, :n], step[:, n] if tie_param else np.zeros(batch), np.einsum("bi,bi->b", gradient, step)


def _fit_batch(
    model: str, pairs: _Pairs, counts: tuple[NDArray, ...], theta0: NDArray[np.float64], eta0: float, prior: float,
    max_iter: int, tol: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], int]:
    """Damped Newton for a batch of replicas sharing one pair list; returns theta, eta, log-likelihood, iterations.

    theta0 (mean zero) starts every replica; bootstrap replicas start from the point estimate, a few steps away.
    """
    batch = counts[0].shape[0]
    counts = _prepare(model, counts)
    incidence = pairs.incidence
    theta = np.tile(theta0 - theta0.mean(), (batch, 1))
    eta = np.full(batch, eta0)
    loglik = _loglik(model, pairs, theta, eta, counts, prior)
    active = np.arange(batch)
    iterations = 0
    while active.size and iterations < max_iter:
        iterations += 1
        # Fancy indexing copies; skip it while every replica is still iterating.
        everyone = active.size == batch
        sub = counts if everyone else tuple(c[active] for c in counts)
        cur_theta, cur_eta, cur_loglik = (theta, eta, loglik) if everyone else (
            theta[active], eta[active], loglik[active])
        d_theta, d_eta, decrement = _newton_step(model, pairs, incidence, cur_theta, cur_eta, sub, prior)
        scale = np.ones(active.size)
        new_theta, new_eta, new_loglik = cur_theta.copy(), cur_eta.copy(), cur_loglik.copy()
        pending = np.arange(active.size)
        for _ in range(60):
            whole = pending.size == active.size
            cand_theta = cur_theta[pending] + scale[pending, None] * d_theta[pending]
            cand_eta = cur_eta[pending] + scale[pending] * d_eta[pending]
            cand_counts = sub if whole else tuple(c[pending] for c in sub)
            cand_loglik = _loglik(model, pairs, cand_theta, cand_eta, cand_counts, prior)
            old = cur_loglik[pending]
            accepted = cand_loglik >= old - 1e-12 * (1.0 + np.abs(old))
            done = pending[accepted]
            new_theta[done], new_eta[done], new_loglik[done] = (
                cand_theta[accepted], cand_eta[accepted], cand_loglik[accepted])
            pending = pending[~accepted]
            if not pending.size:
                break
            scale[pending] *= 0.5
        scale[pending] = 0.0
        theta[active], eta[active], loglik[active] = new_theta, new_eta, new_loglik
        moved = scale * np.maximum(np.abs(d_theta).max(axis=1), np.abs(d_eta))
        converged = (moved < tol) | (decrement < tol * tol) | (scale == 0.0)
        active = active[~converged]
    if active.size and max_iter > 0:
        raise ValueError(f"Bradley–Terry fit did not converge in {max_iter} Newton steps for {active.size} of "
                         f"{batch} replicas; the ratings are too far apart for the data (pass prior > 0)")
    return theta, eta, loglik, iterations


def _eta_start(model: str, tie_share: float) -> float:
    share = min(max(tie_share, 1e-3), 0.99)
    if model == "davidson":
        return math.log(2.0 * share / (1.0 - share))
    if model == "rao-kupper":
        return 2.0 * math.atanh(share)
    return 0.0


def _tie_param(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Davidson's nu or Rao–Kupper's theta from the internal log parameter."""
    return np.exp(eta)


def _components(pairs: _Pairs, linked: NDArray[np.bool_], directed: bool) -> NDArray[np.int64]:
    """Component label of every (replica, system); `linked` is (replicas, 2 * pairs): i->j then j->i."""
    batch = linked.shape[0]
    sources = np.concatenate([pairs.first, pairs.second])
    targets = np.concatenate([pairs.second, pairs.first])
    replica, edge = np.nonzero(linked)
    graph = sparse.csr_matrix(
        (np.ones(edge.size), (replica * pairs.n + sources[edge], replica * pairs.n + targets[edge])),
        shape=(batch * pairs.n, batch * pairs.n),
    )
    _, labels = connected_components(graph, directed=directed, connection="strong")
    return labels.reshape(batch, pairs.n)


def _win_links(counts: tuple[NDArray, ...]) -> NDArray[np.bool_]:
    """i->j when i beat or tied j at least once (the MLE exists iff that graph is strongly connected)."""
    w_ij, w_ji, t = counts
    return np.concatenate([(w_ij + t) > 0, (w_ji + t) > 0], axis=1)


def _unconnected(pairs: _Pairs, counts: tuple[NDArray, ...]) -> NDArray[np.bool_]:
    labels = _components(pairs, _win_links(counts), directed=True)
    return np.any(labels != labels[:, :1], axis=1)


def _describe_components(pairs: _Pairs, counts: tuple[NDArray, ...]) -> str:
    labels = _components(pairs, _win_links(counts), directed=True)[0]
    played = np.zeros(pairs.n, dtype=bool)
    total = counts[0][0] + counts[1][0] + counts[2][0]
    played[pairs.first[total > 0]] = True
    played[pairs.second[total > 0]] = True
    idle = np.flatnonzero(~played).tolist()
    groups = sorted(np.flatnonzero(labels == label).tolist() for label in np.unique(labels[played]))
    text = (f"the win graph splits into {len(groups)} groups {groups} (a group that never lost to, or never beat, "
            "the rest has no finite rating)")
    if idle:
        text += f"; systems with no counted battles: {idle}"
    return text


@dataclass(frozen=True, eq=False)
class BTFit:
    """A Bradley–Terry fit: log-strengths theta (mean zero), the tie parameter where modelled, its log-likelihood."""

    theta: NDArray[np.float64]
    ties: TieModel
    tie_param: float | None
    log_likelihood: float
    prior: float
    iterations: int

    def ratings(self, *, anchor: int | None = None, anchor_rating: float = ELO_INITIAL) -> NDArray[np.float64]:
        """The strengths on the Elo scale (mean 1000, or `anchor` at `anchor_rating`)."""
        return elo_from_theta(self.theta, anchor=anchor, anchor_rating=anchor_rating)


def _pair_arrays(
    counts: PairCounts, include_both_bad: bool
) -> tuple[_Pairs, tuple[NDArray, NDArray, NDArray]]:
    first, second = np.triu_indices(counts.n, k=1)
    ties = counts._ties(include_both_bad)
    w_ij = counts.wins[first, second]
    w_ji = counts.wins[second, first]
    t = ties[first, second]
    played = (w_ij + w_ji + t) > 0
    pairs = _Pairs(first=first[played], second=second[played], n=counts.n)
    return pairs, tuple(x[played].astype(np.float64)[None, :] for x in (w_ij, w_ji, t))  # type: ignore[return-value]


def _check_fit_options(ties: str, prior: float) -> None:
    if ties not in _TIE_MODELS:
        raise ValueError(f"unknown tie model {ties!r}; use one of {', '.join(_TIE_MODELS)}")
    if not (math.isfinite(prior) and prior >= 0.0):
        raise ValueError(f"prior must be a finite number >= 0, got {prior}")


def bt_fit(
    counts: PairCounts,
    *,
    ties: TieModel = "half",
    prior: float = 0.0,
    include_both_bad: bool = False,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> BTFit:
    """Bradley–Terry maximum likelihood (maximum a posteriori with `prior` > 0) on pair counts.

    ties: "half" counts a tie as half a win to each side; "davidson" and "rao-kupper" model ties with a tie
    parameter (nu, theta_RK). prior is the precision of a zero-mean Gaussian on the log-strengths.
    Without a prior the estimate exists only when the win graph is strongly connected: a ValueError says which
    groups split it. With a prior every system, even one without battles, gets a finite rating.
    """
    _check_fit_options(ties, prior)
    pairs, arrays = _pair_arrays(counts, include_both_bad)
    if counts.n == 0:
        raise ValueError("no systems to rate")
    if prior == 0.0 and counts.n > 1 and _unconnected(pairs, arrays)[0]:
        raise ValueError(
            "Bradley–Terry maximum likelihood does not exist for these votes: "
            f"{_describe_components(pairs, arrays)}. Pass prior > 0 (e.g. {DEFAULT_LEADERBOARD_PRIOR}) "
            "for finite ratings."
        )
    total_ties = float(arrays[2].sum())
    if ties != "half" and total_ties == 0.0:
        raise ValueError(f"the {ties} tie model needs at least one tie to estimate its tie parameter")
    decided = float(sum(a.sum() for a in arrays))
    eta0 = _eta_start(ties, total_ties / decided if decided else 0.0)
    theta, eta, loglik, iterations = _fit_batch(ties, pairs, arrays, np.zeros(counts.n), eta0, prior, max_iter, tol)
    return BTFit(
        theta=theta[0] - theta[0].mean(),
        ties=ties,
        tie_param=None if ties == "half" else float(_tie_param(eta)[0]),
        log_likelihood=float(loglik[0]),
        prior=prior,
        iterations=iterations,
    )


def elo_from_theta(
    theta: ArrayLike, *, anchor: int | None = None, anchor_rating: float = ELO_INITIAL
) -> NDArray[np.float64]:
    """Log-strengths (last axis: systems) on the Elo scale: 400 * log10 odds, mean 1000 or `anchor` fixed."""
    values = np.asarray(theta, dtype=np.float64) * ELO_PER_LOGIT
    if anchor is None:
        return values - values.mean(axis=-1, keepdims=True) + anchor_rating
    if not 0 <= anchor < values.shape[-1]:
        raise ValueError(f"anchor system {anchor} is out of range for {values.shape[-1]} systems")
    return values - values[..., anchor : anchor + 1] + anchor_rating


# ---------------------------------------------------------------------------------------------------------------
# Bootstrap


@dataclass(frozen=True, eq=False)
class BootstrapRatings:
    """Ratings of every bootstrap replica (rounds x systems, Elo scale) and its tie parameter where modelled."""

    ratings: NDArray[np.float64]
    tie_params: NDArray[np.float64] | None

    def intervals(self, level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return percentile_intervals(self.ratings, level=level)


def _resample_cells(
    counts: PairCounts, pairs: _Pairs, include_both_bad: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The non-empty (outcome kind, fitted pair) cells with their counts; kind -1 gathers every battle the fit
    ignores (both-bad votes unless included) into one cell, so the multinomial has fewer cells to draw."""
    first, second = pairs.first, pairs.second
    tables = [counts.wins[first, second], counts.wins[second, first], counts.ties[first, second]]
    if include_both_bad:
        tables.append(counts.both_bad[first, second])
    flat = np.concatenate(tables)
    kinds = np.repeat(np.arange(len(tables)), len(first))
    columns = np.tile(np.arange(len(first)), len(tables))
    keep = flat > 0
    kinds, columns, flat = kinds[keep], columns[keep], flat[keep]
    ignored = counts.total - int(flat.sum())
    if ignored:
        kinds, columns, flat = np.append(kinds, -1), np.append(columns, 0), np.append(flat, ignored)
    return kinds, columns, flat


def bootstrap_ratings(
    counts: PairCounts,
    *,
    rounds: int = 1000,
    seed: int | np.random.Generator | None = 0,
    ties: TieModel = "half",
    prior: float = 0.0,
    include_both_bad: bool = False,
    anchor: int | None = None,
    anchor_rating: float = ELO_INITIAL,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> BootstrapRatings:
    """Refit on `rounds` resamples of the battles, drawn as one multinomial over the non-empty (pair, outcome) cells.

    Resampling the counts this way is the same as resampling battles with replacement, and all replicas are
    fitted together in batched Newton steps. Without a prior a replica whose win graph falls apart has no
    estimate, and a ValueError says so.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    # The point fit checks the options and the data, and its estimate starts every replica.
    point = bt_fit(counts, ties=ties, prior=prior, include_both_bad=include_both_bad)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = counts.n
    base_pairs, base_arrays = _pair_arrays(counts, include_both_bad)
    base_links = _win_links(base_arrays)
    kinds, columns, cell_counts = _resample_cells(counts, base_pairs, include_both_bad)
    total = int(cell_counts.sum())
    if total == 0:
        raise ValueError("no battles to resample")
    draws = rng.multinomial(total, cell_counts / total, size=rounds)
    eta0 = 0.0 if point.tie_param is None else math.log(point.tie_param)

    chunk = max(1, _CHUNK_CELLS // max(len(base_pairs.first), n * n, 1))
    ratings = np.empty((rounds, n))
    tie_params = None if ties == "half" else np.empty(rounds)
    for start in range(0, rounds, chunk):
        block = draws[start : start + chunk]
        table = np.zeros((3, block.shape[0], len(base_pairs.first)))
        # Within one kind every pair appears once, so += adds rather than overwrites; both-bad (kind 3) joins ties.
        for kind in range(4):
            chosen = kinds == kind
            table[min(kind, 2)][:, columns[chosen]] += block[:, chosen]
        arrays = (table[0], table[1], table[2])
        if prior == 0.0 and n > 1:
            # A replica keeps the (strongly connected) graph of the data unless it lost one of its links.
            thinned = np.flatnonzero(np.any(base_links & ~_win_links(arrays), axis=1))
            broken = thinned[_unconnected(base_pairs, tuple(a[thinned] for a in arrays))] if thinned.size else thinned
            if broken.size:
                raise ValueError(
                    f"bootstrap replica {start + int(broken[0])} has no maximum-likelihood estimate (its win graph "
                    f"is not strongly connected; {broken.size} of {block.shape[0]} in this batch). Pass prior > 0."
                )
        theta, eta, _, _ = _fit_batch(ties, base_pairs, arrays, point.theta, eta0, prior, max_iter, tol)
        ratings[start : start + block.shape[0]] = elo_from_theta(theta, anchor=anchor, anchor_rating=anchor_rating)
        if tie_params is not None:
            tie_params[start : start + block.shape[0]] = _tie_param(eta)
    return BootstrapRatings(ratings=ratings, tie_params=tie_params)


def percentile_intervals(
    samples: ArrayLike, *, level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile interval of each column of (rounds x systems) samples."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(np.asarray(samples, dtype=np.float64), [tail, 100.0 - tail], axis=0)
    return low, high


def ranks_from_intervals(low: ArrayLike, high: ArrayLike) -> NDArray[np.int64]:
    """Rank = 1 + the number of systems whose lower bound lies above this system's upper bound."""
    lows = np.asarray(low, dtype=np.float64)
    highs = np.asarray(high, dtype=np.float64)
    if lows.shape != highs.shape or lows.ndim != 1:
        raise ValueError(f"low and high must be vectors of one length, got shapes {lows.shape} and {highs.shape}")
    return 1 + (lows[None, :] > highs[:, None]).sum(axis=1)


# ---------------------------------------------------------------------------------------------------------------
# Online Elo


def online_elo(
    *,
    sys_a: ArrayLike,
    sys_b: ArrayLike,
    outcome: ArrayLike,
    n_systems: int | None = None,
    k: float = 4.0,
    base: float = 10.0,
    scale: float = 400.0,
    initial: float = ELO_INITIAL,
    both_bad_as_tie: bool = False,
) -> NDArray[np.float64]:
    """Sequential Elo over battle rows in the given order, as Chatbot Arena shows it next to its BT ratings.

    Both-bad votes are skipped (as in the Bradley–Terry fit) unless `both_bad_as_tie`, Chatbot Arena's choice.
    """
    a, b, o, n = _battle_rows(sys_a, sys_b, outcome, n_systems)
    score = np.array([1.0, 0.0, 0.5, 0.5 if both_bad_as_tie else np.nan])[o]
    keep = ~np.isnan(score)
    ratings = [float(initial)] * n
    # Elo is sequential by definition; plain floats in a tight loop beat numpy scalars by an order of magnitude.
    for i, j, s in zip(a[keep].tolist(), b[keep].tolist(), score[keep].tolist(), strict=True):
        ri, rj = ratings[i], ratings[j]
        expected = 1.0 / (1.0 + base ** ((rj - ri) / scale))
        ratings[i] = ri + k * (s - expected)
        ratings[j] = rj - k * (s - expected)
    return np.asarray(ratings, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Bradley–Terry with covariates


@dataclass(frozen=True, eq=False)
class CovariateFit:
    """Ratings controlled for per-battle covariates, with the covariates' effects.

    coef[name] is the change in log-odds that A is preferred per unit of the covariate (A minus B);
    coef_elo is the same in Elo points. Standard errors come from the observed information.
    """

    theta: NDArray[np.float64]
    rating: NDArray[np.float64]
    rating_se: NDArray[np.float64]
    names: tuple[str, ...]
    coef: dict[str, float]
    coef_se: dict[str, float]
    coef_elo: dict[str, float]
    log_likelihood: float
    rows: int


def bt_covariate_fit(
    *,
    sys_a: ArrayLike,
    sys_b: ArrayLike,
    outcome: ArrayLike,
    covariates: Mapping[str, ArrayLike] | None = None,
    position: ArrayLike | None = None,
    position_effect: bool = True,
    n_systems: int | None = None,
    weights: ArrayLike | None = None,
    prior: float = 0.0,
    include_both_bad: bool = False,
    collapse: bool = False,
    anchor: int | None = None,
    anchor_rating: float = ELO_INITIAL,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> CovariateFit:
    """Logistic Bradley–Terry on battle rows: logit P(A preferred) = theta_A - theta_B + sum_k beta_k z_k.

    covariates maps a name to a per-battle value taken as A minus B (e.g. "loudness_diff" in LU,
    "duration_diff" in s). position_effect adds "position_a": +1 where A's clip was in position A (the default
    when `position` is None, i.e. sys_a is the clip shown as A) and -1 where it was in position B.
    Ties count half to each side; both-bad votes are left out unless include_both_bad. weights repeat rows;
    collapse merges identical rows first: it pays off when rows repeat (few clip pairs, rounded covariates) and
    costs about as much as the fit when they do not (NOTES.md, "Measured figures"). prior (a ridge on the
    strengths and the effects) keeps everything finite; without it a ValueError names a model with no estimate.
    """
    a, b, o, n = _battle_rows(sys_a, sys_b, outcome, n_systems)
    rows = len(a)
    columns: list[NDArray[np.float64]] = []
    names: list[str] = []
    for name, values in (covariates or {}).items():
        column = np.asarray(values, dtype=np.float64)
        if column.shape != (rows,):
            raise ValueError(f"covariate {name!r} has shape {column.shape}, expected ({rows},)")
        if not np.all(np.isfinite(column)):
            raise ValueError(f"covariate {name!r} holds a missing or infinite value")
        names.append(str(name))
        columns.append(column)
    if position_effect:
        if position is None:
            side = np.ones(rows)
        else:
            side = np.asarray(position, dtype=np.float64)
            if side.shape != (rows,) or not np.all(np.isin(side, (-1.0, 1.0))):
                raise ValueError("position must hold +1 (A shown in position A) or -1 for every battle")
        names.append("position_a")
        columns.append(side)
    z = np.column_stack(columns) if columns else np.zeros((rows, 0))
    repeat = np.ones(rows) if weights is None else np.asarray(weights, dtype=np.float64)
    if repeat.shape != (rows,) or np.any(repeat < 0) or not np.all(np.isfinite(repeat)):
        raise ValueError("weights must be one finite non-negative number per battle")
    if not (math.isfinite(prior) and prior >= 0.0):
        raise ValueError(f"prior must be a finite number >= 0, got {prior}")

    tie_codes = (Outcome.TIE, Outcome.BOTH_BAD) if include_both_bad else (Outcome.TIE,)
    is_tie = np.isin(o, tie_codes)
    won = repeat * ((o == Outcome.A) + 0.5 * is_tie)
    lost = repeat * ((o == Outcome.B) + 0.5 * is_tie)
    keep = (won + lost) > 0
    a, b, z, won, lost = a[keep], b[keep], z[keep], won[keep], lost[keep]
    if collapse and a.size:
        group, first_row = _row_groups(np.column_stack([a, b]), z)
        won = np.bincount(group, weights=won)
        lost = np.bincount(group, weights=lost)
        a, b, z = a[first_row], b[first_row], z[first_row]
    if a.size == 0:
        raise ValueError("no decided battles to fit")
    if prior == 0.0 and n > 1:
        counts = PairCounts.from_grouped(sys_a=a, sys_b=b, wins_a=np.ceil(won), wins_b=np.ceil(lost),
                                         ties=np.zeros(a.size), both_bad=np.zeros(a.size), n_systems=n)
        pairs, arrays = _pair_arrays(counts, include_both_bad=False)
        if _unconnected(pairs, arrays)[0]:
            raise ValueError(
                "Bradley–Terry maximum likelihood does not exist for these votes: "
                f"{_describe_components(pairs, arrays)}. Pass prior > 0 for finite ratings."
            )
    params, information, loglik = _covariate_newton(a, b, z, won, lost, n, prior, max_iter, tol)
    covariance = np.linalg.inv(information)
    centre = np.eye(n) - 1.0 / n
    theta_cov = centre @ covariance[:n, :n] @ centre
    theta = params[:n] - params[:n].mean()
    rating = elo_from_theta(theta, anchor=anchor, anchor_rating=anchor_rating)
    if anchor is None:
        rating_se = np.sqrt(np.clip(np.diagonal(theta_cov), 0.0, None)) * ELO_PER_LOGIT
    else:
        shift = np.eye(n) - np.eye(n)[anchor]
        rating_se = np.sqrt(np.clip(np.diagonal(shift @ theta_cov @ shift.T), 0.0, None)) * ELO_PER_LOGIT
    beta = params[n:]
    beta_se = np.sqrt(np.clip(np.diagonal(covariance)[n:], 0.0, None))
    return CovariateFit(
        theta=theta,
        rating=rating,
        rating_se=rating_se,
        names=tuple(names),
        coef={name: float(beta[k]) for k, name in enumerate(names)},
        coef_se={name: float(beta_se[k]) for k, name in enumerate(names)},
        coef_elo={name: float(beta[k] * ELO_PER_LOGIT) for k, name in enumerate(names)},
        log_likelihood=loglik,
        rows=int(a.size),
    )


def _row_groups(codes: NDArray[np.int64], values: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Group id of every row of (integer codes, float values) and one row index standing for each group.

    Each float column is replaced by its rank among its distinct values, and the ranks are packed into one
    int64 key, so a single 1-D unique does the grouping (np.unique(axis=0) on float rows is far slower).
    """
    columns = [codes[:, k] for k in range(codes.shape[1])]
    for k in range(values.shape[1]):
        columns.append(np.unique(values[:, k], return_inverse=True)[1].ravel())
    key = np.zeros(len(values), dtype=np.int64)
    room = 1
    for column in columns:
        size = int(column.max()) + 1
        room *= size
        if room >= 2**62:
            # Too many distinct combinations to pack: fall back to sorting the rows.
            _, group = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
            break
        key = key * size + column
    else:
        _, group = np.unique(key, return_inverse=True)
    group = group.ravel()
    # Any row of a group stands for it (asking np.unique for first indices forces a slower stable sort).
    first_row = np.empty(int(group.max()) + 1, dtype=np.int64)
    first_row[group] = np.arange(len(group))
    return group, first_row


_NO_COVARIATE_ESTIMATE = (
    "the covariate model has no finite estimate: a covariate is collinear with the systems or another covariate "
    "(e.g. never varies), or the covariates separate the votes; drop it or pass prior > 0"
)


def _covariate_newton(
    a: NDArray[np.int64], b: NDArray[np.int64], z: NDArray[np.float64], won: NDArray[np.float64],
    lost: NDArray[np.float64], n: int, prior: float, max_iter: int, tol: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Damped Newton on the weighted logistic likelihood; returns parameters, information (prior and gauge
    included), log-likelihood. The prior covers the covariate effects too, so with prior > 0 all stay finite."""
    q = z.shape[1]
    params = np.zeros(n + q)
    total = won + lost

    def loglik(p: NDArray[np.float64]) -> float:
        s = p[a] - p[b] + z @ p[n:]
        # log sigmoid(s) = min(s, 0) - log(1 + exp(-|s|)) and log sigmoid(-s) = log sigmoid(s) - s.
        log_p = np.minimum(s, 0.0) - np.log1p(np.exp(-np.abs(s)))
        return float(total @ log_p - lost @ s - 0.5 * prior * p @ p)

    pair_index = a * n + b

    def by_system(values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum of a per-row quantity over rows where each system is A, minus where it is B."""
        per_pair = np.bincount(pair_index, values, n * n).reshape(n, n)
        return per_pair.sum(axis=1) - per_pair.sum(axis=0)

    def pieces(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        s = p[a] - p[b] + z @ p[n:]
        prob = expit(s)
        residual = won - total * prob
        curvature = total * prob * (1.0 - prob)
        gradient = np.empty(n + q)
        gradient[:n] = by_system(residual)
        gradient[n:] = z.T @ residual
        gradient -= prior * p
        info = np.zeros((n + q, n + q))
        pair = np.bincount(pair_index, curvature, n * n).reshape(n, n)
        pair = pair + pair.T
        info[:n, :n] = np.diag(pair.sum(axis=1)) - pair
        weighted = z * curvature[:, None]
        cross = np.stack([by_system(weighted[:, k]) for k in range(q)], axis=1) if q else np.zeros((n, 0))
        info[:n, n:] = cross
        info[n:, :n] = cross.T
        info[n:, n:] = z.T @ weighted
        info += prior * np.eye(n + q)
        # The strengths are identified up to a constant: 11^T on their block fixes the sum at zero.
        info[:n, :n] += max(np.trace(info[:n, :n]) / n, 1.0) / n
        return gradient, info

    current = loglik(params)
    for _ in range(max_iter):
        gradient, information = pieces(params)
        if np.linalg.cond(information) > 1e12:
            raise ValueError(_NO_COVARIATE_ESTIMATE)
        step = np.linalg.solve(information, gradient)
        scale = 1.0
        while True:
            candidate = params + scale * step
            value = loglik(candidate)
            if value >= current - 1e-12 * (1.0 + abs(current)):
                break
            scale *= 0.5
            if scale < 1e-12:
                raise ValueError(_NO_COVARIATE_ESTIMATE)
        params, current = candidate, value
        if scale * np.abs(step).max() < tol or gradient @ step < tol * tol:
            break
    else:
        raise ValueError(_NO_COVARIATE_ESTIMATE)
    _, information = pieces(params)
    if np.linalg.cond(information) > 1e12:
        raise ValueError(_NO_COVARIATE_ESTIMATE)
    return params, information, current


# ---------------------------------------------------------------------------------------------------------------
# Leaderboard


@dataclass(frozen=True, eq=False)
class Leaderboard:
    """Everything a leaderboard page shows, per system index; `rows()` and `to_dict()` give plain Python.

    Systems without a counted battle are not rated: their rating, interval and rank are NaN / None.
    win_rate counts a tie as half a win over decided battles; n counts every battle, both-bad included.
    """

    rating: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    rank: NDArray[np.int64]
    rated: NDArray[np.bool_]
    wins: NDArray[np.int64]
    losses: NDArray[np.int64]
    ties: NDArray[np.int64]
    both_bad: NDArray[np.int64]
    n: NDArray[np.int64]
    win_rate: NDArray[np.float64]
    win_rate_matrix: NDArray[np.float64]
    battle_matrix: NDArray[np.int64]
    tie_param: float | None
    tie_param_ci: tuple[float, float] | None
    method: dict[str, Any]
    vote_count: int
    groups: int

    def rows(self, names: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """One dict per system, best first (unrated systems last)."""
        order = sorted(range(len(self.rating)),
                       key=lambda i: (not self.rated[i], -self.rating[i] if self.rated[i] else 0.0, i))
        return [
            {
                "system": names[i] if names is not None else i,
                "rating": _plain(self.rating[i]),
                "ci_low": _plain(self.ci_low[i]),
                "ci_high": _plain(self.ci_high[i]),
                "rank": int(self.rank[i]) if self.rated[i] else None,
                "wins": int(self.wins[i]),
                "losses": int(self.losses[i]),
                "ties": int(self.ties[i]),
                "both_bad": int(self.both_bad[i]),
                "n": int(self.n[i]),
                "win_rate": _plain(self.win_rate[i]),
            }
            for i in order
        ]

    def to_dict(self, names: Sequence[Any] | None = None) -> dict[str, Any]:
        """JSON-ready: rows, the win-rate and battle matrices (by system index order), and how they were made."""
        return {
            "rows": self.rows(names),
            "systems": list(names) if names is not None else list(range(len(self.rating))),
            "win_rate": [[_plain(x) for x in row] for row in self.win_rate_matrix],
            "battles": self.battle_matrix.tolist(),
            "tie_param": self.tie_param,
            "tie_param_ci": list(self.tie_param_ci) if self.tie_param_ci else None,
            "method": dict(self.method),
            "vote_count": self.vote_count,
            "groups": self.groups,
        }


def _plain(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def leaderboard(
    counts: PairCounts,
    *,
    rounds: int = 1000,
    seed: int | np.random.Generator | None = 0,
    ties: TieModel = "half",
    prior: float = DEFAULT_LEADERBOARD_PRIOR,
    include_both_bad: bool = False,
    anchor: int | None = None,
    anchor_rating: float = ELO_INITIAL,
    level: float = 0.95,
) -> Leaderboard:
    """Bradley–Terry ratings with bootstrap percentile intervals and interval-based ranks, plus the tallies.

    rounds=0 skips the bootstrap: the interval collapses to the rating and rank follows the ratings.
    groups counts the parts of the comparison graph: above 1, ratings across parts rest on the prior alone.
    """
    _check_fit_options(ties, prior)
    n = counts.n
    decided_ties = counts._ties(include_both_bad)
    played = (counts.wins + counts.wins.T + decided_ties).sum(axis=1) > 0
    rated_index = np.flatnonzero(played)
    if anchor is not None and (not 0 <= anchor < n or not played[anchor]):
        raise ValueError(f"anchor system {anchor} has no counted battles to anchor the scale on")
    sub = counts.subset(rated_index)
    sub_anchor = None if anchor is None else int(np.searchsorted(rated_index, anchor))

    rating = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    rank = np.zeros(n, dtype=np.int64)
    tie_param: float | None = None
    tie_param_ci: tuple[float, float] | None = None
    groups = 0
    if rated_index.size:
        fit = bt_fit(sub, ties=ties, prior=prior, include_both_bad=include_both_bad)
        tie_param = fit.tie_param
        rating[rated_index] = fit.ratings(anchor=sub_anchor, anchor_rating=anchor_rating)
        if rounds > 0:
            boot = bootstrap_ratings(sub, rounds=rounds, seed=seed, ties=ties, prior=prior,
                                     include_both_bad=include_both_bad, anchor=sub_anchor,
                                     anchor_rating=anchor_rating)
            low[rated_index], high[rated_index] = boot.intervals(level)
            if boot.tie_params is not None:
                lo, hi = percentile_intervals(boot.tie_params[:, None], level=level)
                tie_param_ci = (float(lo[0]), float(hi[0]))
        else:
            low[rated_index] = rating[rated_index]
            high[rated_index] = rating[rated_index]
        rank[rated_index] = ranks_from_intervals(low[rated_index], high[rated_index])
        pairs, arrays = _pair_arrays(sub, include_both_bad)
        labels = _components(pairs, _win_links(arrays), directed=False)[0]
        groups = int(np.unique(labels).size)

    wins = counts.wins.sum(axis=1)
    losses = counts.wins.sum(axis=0)
    tie_total = counts.ties.sum(axis=1)
    both_bad = counts.both_bad.sum(axis=1)
    decided = wins + losses + decided_ties.sum(axis=1)
    scored = wins + 0.5 * decided_ties.sum(axis=1)
    win_rate = np.divide(scored, decided, out=np.full(n, np.nan), where=decided > 0)
    return Leaderboard(
        rating=rating,
        ci_low=low,
        ci_high=high,
        rank=rank,
        rated=played,
        wins=wins,
        losses=losses,
        ties=tie_total,
        both_bad=both_bad,
        n=wins + losses + tie_total + both_bad,
        win_rate=win_rate,
        win_rate_matrix=counts.win_rate_matrix(include_both_bad=include_both_bad),
        battle_matrix=counts.battle_matrix(),
        tie_param=tie_param,
        tie_param_ci=tie_param_ci,
        method={"model": "bradley_terry", "ties": ties, "prior": prior, "include_both_bad": include_both_bad,
                "rounds": rounds, "seed": seed if isinstance(seed, int) else None, "level": level,
                "anchor": anchor, "anchor_rating": anchor_rating if anchor is not None else None,
                "scale": "elo: 400 * log10 odds, mean 1000" if anchor is None else "elo: 400 * log10 odds"},
        vote_count=counts.total,
        groups=groups,
    )
