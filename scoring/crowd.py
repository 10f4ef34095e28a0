"""Reliability-weighted ratings: Crowd-BT (Chen et al. 2013), strengths and each rater's reliability fitted jointly.

Rater r reports the better system of a pair with probability eta_r and flips a fair-minded coin the other way:
P(i over j | r) = eta_r * sigmoid(s_i - s_j) + (1 - eta_r) * sigmoid(s_j - s_i). A careful rater has eta near 1,
one who clicks at random eta near 0.5, so careless raters are found from the votes themselves, without gold.
Pure numpy/scipy, arrays in and arrays out, like scoring.ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.special import expit
from scipy.stats import norm

from scoring.ratings import DEFAULT_LEADERBOARD_PRIOR, ELO_PER_LOGIT, PairCounts, bt_fit, elo_from_theta

__all__ = ["CROWD_ETA_PRIOR", "CrowdFit", "crowd_bt_fit", "simulate_rater_votes"]

# Beta(2, 1) on each eta: one pseudo-vote of agreement. It breaks the model's mirror symmetry (s, eta) -> (-s,
# 1 - eta) in favour of raters who mostly agree with the consensus and leaves a rater with a hundred votes where
# the votes put it. A prior with its mode inside (0, 1), e.g. Beta(4, 2), looks as weak per rater but adds up
# over all raters along the likelihood's one flat direction (every eta lower, the strengths further apart): in
# simulated campaigns it pulled careful raters from 0.95 to 0.85 and doubled the rating error (NOTES.md).
CROWD_ETA_PRIOR = (2.0, 1.0)
_ETA_BOUND = 1e-6
# Every rater starts as a careful one; with the plain fit's strengths this starts in the consensus's orientation.
_ETA_START = 0.9


@dataclass(frozen=True, eq=False)
class CrowdFit:
    """A Crowd-BT fit. Per system: log-strengths theta (mean zero over the rated systems), ratings on the Elo scale
    (mean 1000) with Fisher 95% intervals, NaN for a system without a decided vote. Per rater: eta (reliability),
    its standard error, and the votes it counted. `information` is the Fisher information of the log-strengths
    from the votes (the raters' etas profiled out, no prior on the strengths): what `scoring.projection` scales."""

    theta: NDArray[np.float64]
    rating: NDArray[np.float64]
    rating_se: NDArray[np.float64]
    ci_low: NDArray[np.float64]
    ci_high: NDArray[np.float64]
    rated: NDArray[np.bool_]
    eta: NDArray[np.float64]
    eta_se: NDArray[np.float64]
    rater_votes: NDArray[np.float64]
    information: NDArray[np.float64]
    log_posterior: float
    iterations: int
    method: dict[str, Any]


@dataclass(frozen=True)
class _Cells:
    """Votes aggregated per (rater, pair) with first < second; `won` and `lost` count for `first`, a tie as half."""

    rater: NDArray[np.int64]
    first: NDArray[np.int64]
    second: NDArray[np.int64]
    won: NDArray[np.float64]
    lost: NDArray[np.float64]


def _vector(name: str, values: ArrayLike, size: int | None = None) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and (array.dtype.kind not in "iu" and not np.all(array == np.round(array))):
        raise ValueError(f"{name} must hold whole numbers")
    if size is not None and array.size != size:
        raise ValueError(f"{name} has {array.size} entries, expected {size}")
    out = array.astype(np.int64)
    if out.size and out.min() < 0:
        raise ValueError(f"{name} holds a negative value at row {int(np.flatnonzero(out < 0)[0])}")
    return out


def _cells(
    rater: ArrayLike, sys_a: ArrayLike, sys_b: ArrayLike, wins_a: ArrayLike, wins_b: ArrayLike, ties: ArrayLike,
    n_systems: int, n_raters: int,
) -> _Cells:
    r = _vector("rater", rater)
    a, b = _vector("sys_a", sys_a, r.size), _vector("sys_b", sys_b, r.size)
    wa, wb, t = (_vector(name, v, r.size) for name, v in (("wins_a", wins_a), ("wins_b", wins_b), ("ties", ties)))
    if r.size and (a.max() >= n_systems or b.max() >= n_systems):
        raise ValueError(f"a system index is out of range for {n_systems} systems")
    if r.size and r.max() >= n_raters:
        raise ValueError(f"a rater index is out of range for {n_raters} raters")
    same = np.flatnonzero(a == b)
    if same.size:
        raise ValueError(f"row {int(same[0])} pairs system {int(a[same[0]])} with itself")
    swap = a > b
    first, second = np.where(swap, b, a), np.where(swap, a, b)
    won = np.where(swap, wb, wa) + 0.5 * t
    lost = np.where(swap, wa, wb) + 0.5 * t
    key = (r * n_systems + first) * n_systems + second
    unique, inverse = np.unique(key, return_inverse=True)
    won_sum = np.bincount(inverse, weights=won, minlength=unique.size)
    lost_sum = np.bincount(inverse, weights=lost, minlength=unique.size)
    keep = (won_sum + lost_sum) > 0
    unique, won_sum, lost_sum = unique[keep], won_sum[keep], lost_sum[keep]
    return _Cells(rater=unique // (n_systems * n_systems), first=(unique // n_systems) % n_systems,
                  second=unique % n_systems, won=won_sum, lost=lost_sum)


def _probabilities(
    cells: _Cells, theta: NDArray[np.float64], eta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], ...]:
    d = theta[cells.first] - theta[cells.second]
    p, p_rev = expit(d), expit(-d)
    e = eta[cells.rater]
    q_won = e * p + (1.0 - e) * p_rev
    q_lost = e * p_rev + (1.0 - e) * p
    return p, p_rev, e, q_won, q_lost


def _negative_log_posterior(
    params: NDArray[np.float64], cells: _Cells, n: int, prior: float, eta_prior: tuple[float, float], scale: float
) -> tuple[float, NDArray[np.float64]]:
    theta, eta = params[:n], params[n:]
    p, p_rev, e, q_won, q_lost = _probabilities(cells, theta, eta)
    alpha, beta = eta_prior
    log_post = (
        float(cells.won @ np.log(q_won) + cells.lost @ np.log(q_lost))
        - 0.5 * prior * float(theta @ theta)
        + (alpha - 1.0) * float(np.log(eta).sum())
        + (beta - 1.0) * float(np.log1p(-eta).sum())
    )
    g = cells.won / q_won - cells.lost / q_lost
    by_d = g * (2.0 * e - 1.0) * p * p_rev
    grad_theta = np.bincount(cells.first, by_d, n) - np.bincount(cells.second, by_d, n) - prior * theta
    grad_eta = (np.bincount(cells.rater, g * (p - p_rev), eta.size)
                + (alpha - 1.0) / eta - (beta - 1.0) / (1.0 - eta))
    return -log_post / scale, -np.concatenate([grad_theta, grad_eta]) / scale


def _fisher(
    cells: _Cells, theta: NDArray[np.float64], eta: NDArray[np.float64], prior: float,
    eta_prior: tuple[float, float],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Expected Fisher information of the votes: the strengths' information with the etas profiled out (Schur
    complement, eta prior included, strength prior not), each eta's standard error, and the strengths' posterior
    covariance (strength prior included)."""
    n, raters = theta.size, eta.size
    p, p_rev, e, q_won, q_lost = _probabilities(cells, theta, eta)
    m = cells.won + cells.lost
    # For a cell of m votes with P(won) = q, the expected information on (d, eta) is m q'q'^T / (q (1 - q)).
    weight = m / (q_won * q_lost)
    dq_d = (2.0 * e - 1.0) * p * p_rev
    dq_eta = p - p_rev
    info_dd = weight * dq_d**2
    info_de = weight * dq_d * dq_eta
    alpha, beta = eta_prior
    info_ee = (np.bincount(cells.rater, weight * dq_eta**2, raters)
               + (alpha - 1.0) / eta**2 + (beta - 1.0) / (1.0 - eta) ** 2)
    laplacian = np.zeros((n, n))
    np.add.at(laplacian, (cells.first, cells.second), -info_dd)
    np.add.at(laplacian, (cells.second, cells.first), -info_dd)
    laplacian[np.diag_indices(n)] = -laplacian.sum(axis=1)
    cross = np.zeros((n, raters))
    np.add.at(cross, (cells.first, cells.rater), info_de)
    np.add.at(cross, (cells.second, cells.rater), -info_de)
    information = laplacian - (cross / info_ee) @ cross.T
    information = 0.5 * (information + information.T)
    covariance = np.linalg.inv(information + prior * np.eye(n)) if n else np.zeros((0, 0))
    return information, 1.0 / np.sqrt(info_ee), covariance


def crowd_bt_fit(
    *,
    rater: ArrayLike,
    sys_a: ArrayLike,
    sys_b: ArrayLike,
    wins_a: ArrayLike,
    wins_b: ArrayLike,
    ties: ArrayLike,
    n_systems: int,
    n_raters: int,
    prior: float = DEFAULT_LEADERBOARD_PRIOR,
    eta_prior: tuple[float, float] = CROWD_ETA_PRIOR,
    level: float = 0.95,
    max_iter: int = 5000,
) -> CrowdFit:
    """Maximum a posteriori Crowd-BT on votes grouped by (rater, system shown as A, system shown as B).

    Ties count half a win to each side, as on the plain board (ratings "half" model); a tie therefore looks like a
    coin flip and pulls its rater's eta towards 0.5. Priors: a zero-mean Gaussian of precision `prior` on the
    log-strengths (the plain board's ridge) and Beta(eta_prior) on every eta. Start: the plain Bradley–Terry fit
    and eta = 0.9; then L-BFGS-B on all parameters jointly (bounded etas), a deterministic function of
    the input. Intervals: Wald, rating ± z·se from the expected Fisher information at the estimate.
    """
    if n_systems < 1:
        raise ValueError("no systems to rate")
    if n_raters < 1:
        raise ValueError("no raters")
    if not (math.isfinite(prior) and prior > 0.0):
        raise ValueError(f"prior must be a finite number > 0 (the mixture has no unique estimate without it), "
                         f"got {prior}")
    alpha, beta = eta_prior
    if not (alpha >= 1.0 and beta >= 1.0):
        raise ValueError(f"the Beta prior on eta needs both parameters >= 1, got {eta_prior}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    cells = _cells(rater, sys_a, sys_b, wins_a, wins_b, ties, n_systems, n_raters)
    rated = np.zeros(n_systems, dtype=bool)
    rated[cells.first] = True
    rated[cells.second] = True
    rater_votes = np.bincount(cells.rater, cells.won + cells.lost, n_raters)

    # Fit the systems with decided votes only, as the plain board does, so both boards centre on the same set.
    index = np.flatnonzero(rated)
    local = np.full(n_systems, -1)
    local[index] = np.arange(index.size)
    sub = _Cells(rater=cells.rater, first=local[cells.first], second=local[cells.second], won=cells.won,
                 lost=cells.lost)
    n = index.size
    eta0 = np.full(n_raters, _ETA_START)
    theta0 = _plain_start(sub, n, prior)
    if n:
        scale = max(float((sub.won + sub.lost).sum()), 1.0)
        bounds = [(None, None)] * n + [(_ETA_BOUND, 1.0 - _ETA_BOUND)] * n_raters
        result = optimize.minimize(
            _negative_log_posterior, np.concatenate([theta0, eta0]), args=(sub, n, prior, eta_prior, scale),
            jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": max_iter, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-10 / scale},
        )
        if not result.success and result.nit >= max_iter:
            raise ValueError(f"Crowd-BT fit did not converge in {max_iter} iterations: {result.message}")
        theta_sub, eta = result.x[:n], result.x[n:].copy()
        log_posterior, iterations = -float(result.fun) * scale, int(result.nit)
    else:
        theta_sub, eta, log_posterior, iterations = np.zeros(0), eta0, 0.0, 0
    theta_sub = theta_sub - theta_sub.mean() if n else theta_sub
    information_sub, eta_se, covariance = _fisher(sub, theta_sub, eta, prior, eta_prior)
    # The board shows ratings centred on their mean: the variance of theta_i - mean(theta).
    centre = np.eye(n) - 1.0 / max(n, 1)
    se_sub = np.sqrt(np.clip(np.diagonal(centre @ covariance @ centre), 0.0, None)) * ELO_PER_LOGIT

    theta = np.full(n_systems, np.nan)
    rating = np.full(n_systems, np.nan)
    rating_se = np.full(n_systems, np.nan)
    information = np.zeros((n_systems, n_systems))
    theta[index] = theta_sub
    if n:
        rating[index] = elo_from_theta(theta_sub)
        rating_se[index] = se_sub
        information[np.ix_(index, index)] = information_sub
    z = float(norm.ppf(0.5 + level / 2.0))
    return CrowdFit(
        theta=theta, rating=rating, rating_se=rating_se, ci_low=rating - z * rating_se,
        ci_high=rating + z * rating_se, rated=rated, eta=eta, eta_se=eta_se, rater_votes=rater_votes,
        information=information, log_posterior=log_posterior, iterations=iterations,
        method={"model": "crowd_bt", "ties": "half", "prior": prior, "eta_prior": list(eta_prior),
                "intervals": "fisher", "level": level,
                "scale": "elo: 400 * log10 odds, mean 1000"},
    )


def _plain_start(cells: _Cells, n: int, prior: float) -> NDArray[np.float64]:
    """The plain Bradley–Terry fit of the same votes (raters pooled): it sets the orientation of the strengths."""
    if n < 2:
        return np.zeros(n)
    # Half-votes (ties) are doubled into whole counts: the maximiser is the same up to the prior's weight.
    counts = PairCounts.from_grouped(
        sys_a=cells.first, sys_b=cells.second, wins_a=np.rint(2 * cells.won).astype(np.int64),
        wins_b=np.rint(2 * cells.lost).astype(np.int64), ties=np.zeros(cells.first.size, dtype=np.int64),
        both_bad=np.zeros(cells.first.size, dtype=np.int64), n_systems=n,
    )
    return bt_fit(counts, prior=2.0 * prior).theta


def simulate_rater_votes(
    *,
    strengths: ArrayLike,
    etas: ArrayLike,
    votes_per_rater: int,
    seed: int | np.random.Generator,
) -> dict[str, NDArray[np.int64]]:
    """Votes of raters of known reliability on uniformly drawn pairs, one row per vote (wins_a / wins_b 0 or 1,
    no ties): the input crowd_bt_fit takes. For simulations, tests and the bench."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    theta = np.asarray(strengths, dtype=np.float64)
    reliability = np.asarray(etas, dtype=np.float64)
    n, raters = theta.size, reliability.size
    total = raters * votes_per_rater
    rater = np.repeat(np.arange(raters), votes_per_rater)
    a = rng.integers(0, n, total)
    b = (a + rng.integers(1, n, total)) % n
    better_first = rng.random(total) < expit(theta[a] - theta[b])
    honest = rng.random(total) < reliability[rater]
    a_wins = (better_first == honest).astype(np.int64)
    return {"rater": rater, "sys_a": a, "sys_b": b, "wins_a": a_wins, "wins_b": 1 - a_wins,
            "ties": np.zeros(total, dtype=np.int64)}
