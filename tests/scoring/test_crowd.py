"""Crowd-BT (scoring.crowd): the joint fit of strengths and rater reliabilities, checked against a direct
maximum-a-posteriori fit with scipy.optimize, on raters of known reliability, and against the plain board."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit, log_expit

from scoring import ratings
from scoring.crowd import CROWD_ETA_PRIOR, crowd_bt_fit, simulate_rater_votes

PRIOR = ratings.DEFAULT_LEADERBOARD_PRIOR


def _plain_ratings(votes: dict[str, np.ndarray], n_systems: int) -> np.ndarray:
    counts = ratings.PairCounts.from_grouped(
        sys_a=votes["sys_a"], sys_b=votes["sys_b"], wins_a=votes["wins_a"], wins_b=votes["wins_b"],
        ties=votes["ties"], both_bad=np.zeros_like(votes["ties"]), n_systems=n_systems,
    )
    return ratings.bt_fit(counts, prior=PRIOR).ratings()


def _rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))


def _direct_fit(rater: np.ndarray, a: np.ndarray, b: np.ndarray, a_won: np.ndarray, n: int, raters: int) -> tuple:
    """The same posterior written vote by vote and maximised by BFGS over (s, logit eta), independently of the
    module's aggregation, bounds, gradient and start."""
    alpha, beta = CROWD_ETA_PRIOR

    def negative(params: np.ndarray) -> float:
        s, u = params[:n], params[n:]
        d = s[a] - s[b]
        log_eta, log_not = log_expit(u), log_expit(-u)
        # log(eta sigma(d) + (1 - eta) sigma(-d)) for a win of a, computed in logs for accuracy.
        win = np.logaddexp(log_eta[rater] + log_expit(d), log_not[rater] + log_expit(-d))
        loss = np.logaddexp(log_eta[rater] + log_expit(-d), log_not[rater] + log_expit(d))
        loglik = np.where(a_won, win, loss).sum()
        log_prior = -0.5 * PRIOR * s @ s + (alpha - 1.0) * log_eta.sum() + (beta - 1.0) * log_not.sum()
        return -(loglik + log_prior)

    # Not all zeros: eta = 1/2 everywhere is a saddle (the model is symmetric under s -> -s, eta -> 1 - eta), so
    # start every rater at eta = 0.8, on the consensus's side.
    start = np.concatenate([np.zeros(n), np.full(raters, np.log(4.0))])
    result = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-7, "maxiter": 10_000})
    s = result.x[:n]
    return ratings.elo_from_theta(s - s.mean()), expit(result.x[n:]), -float(result.fun)


def test_it_agrees_with_a_direct_maximum_likelihood_fit() -> None:
    rng = np.random.default_rng(20131)
    n, raters, per_rater = 5, 8, 150
    strengths = np.array([-1.0, -0.4, 0.0, 0.5, 1.1])
    etas = np.array([0.85, 0.8, 0.85, 0.75, 0.8, 0.55, 0.5, 0.7])
    votes = simulate_rater_votes(strengths=strengths, etas=etas, votes_per_rater=per_rater, seed=rng)

    fit = crowd_bt_fit(**votes, n_systems=n, n_raters=raters)
    direct_rating, direct_eta, direct_log_posterior = _direct_fit(
        votes["rater"], votes["sys_a"], votes["sys_b"], votes["wins_a"] == 1, n, raters)

    # Two optimisers of one smooth posterior, stopped by their own criteria: they agree to about 1e-5 on the log
    # posterior and, where an eta sits at 1 (the posterior is flat along its boundary), to about 0.1 Elo point
    # on the ratings and 1e-3 on the etas. The tolerances are several times that; an error in the likelihood, the
    # gradient, the aggregation or the priors moves the fit by far more.
    np.testing.assert_allclose(fit.rating, direct_rating, atol=0.5)
    np.testing.assert_allclose(fit.eta, direct_eta, atol=5e-3)
    assert fit.log_posterior == pytest.approx(direct_log_posterior, abs=1e-3)
    assert np.all(fit.ci_low < fit.rating) and np.all(fit.rating < fit.ci_high)
    np.testing.assert_array_equal(fit.rater_votes, np.full(raters, per_rater))


def test_random_raters_get_eta_near_one_half_and_careful_ones_near_one() -> None:
    n, raters = 10, 40
    strengths = np.linspace(-2.0, 2.0, n)
    etas = np.where(np.arange(raters) < 12, 0.5, 0.98)
    votes = simulate_rater_votes(strengths=strengths, etas=etas, votes_per_rater=150, seed=7)
    fit = crowd_bt_fit(**votes, n_systems=n, n_raters=raters)
    random_raters, careful = fit.eta[:12], fit.eta[12:]
    # Each eta rests on 150 votes (standard error about 0.06 near one half): 0.5 ± 0.2 is over three of them.
    assert np.all(np.abs(random_raters - 0.5) < 0.2)
    assert abs(random_raters.mean() - 0.5) < 0.06
    assert np.all(careful > 0.85)
    assert careful.mean() > 0.93
    # The one careless rater a dashboard would flag is found without gold: every random rater ranks below
    # every careful one.
    assert random_raters.max() < careful.min()


def test_the_weighted_fit_beats_the_plain_one_with_30_percent_random_raters() -> None:
    n, raters = 12, 60
    strengths = np.linspace(-1.5, 1.5, n)
    truth = ratings.elo_from_theta(strengths)
    plain_errors, weighted_errors, covered = [], [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        etas = np.where(np.arange(raters) < 18, 0.5, rng.uniform(0.9, 1.0, raters))
        votes = simulate_rater_votes(strengths=strengths, etas=etas, votes_per_rater=100, seed=rng)
        fit = crowd_bt_fit(**votes, n_systems=n, n_raters=raters)
        plain_errors.append(_rmse(_plain_ratings(votes, n), truth))
        weighted_errors.append(_rmse(fit.rating, truth))
        covered.append(np.mean((fit.ci_low <= truth) & (truth <= fit.ci_high)))
    # Random raters pull the plain ratings together by about a third (RMSE near 80 Elo points here), which more
    # votes never cure; the weighted fit's error is sampling noise (near 30). Half the plain error is a margin
    # several times the spread between seeds.
    assert np.mean(weighted_errors) < 0.5 * np.mean(plain_errors)
    assert np.mean(covered) > 0.85


def test_ties_count_half_a_win_to_each_side() -> None:
    # Only ties: no system is better, and a rater who only ties agrees with either direction as much as a coin.
    votes = {"rater": [0, 0, 1, 1], "sys_a": [0, 1, 1, 2], "sys_b": [1, 2, 0, 0], "wins_a": [0, 0, 0, 0],
             "wins_b": [0, 0, 0, 0], "ties": [3, 3, 3, 3]}
    fit = crowd_bt_fit(**votes, n_systems=3, n_raters=2)
    np.testing.assert_allclose(fit.rating, 1000.0, atol=1e-6)
    # A tie is half a win each way: the same fit as one win each way per tie.
    halves = crowd_bt_fit(rater=[0, 1], sys_a=[0, 1], sys_b=[1, 2], wins_a=[2, 1], wins_b=[0, 1], ties=[2, 0],
                          n_systems=3, n_raters=2)
    wins = crowd_bt_fit(rater=[0, 1], sys_a=[0, 1], sys_b=[1, 2], wins_a=[6, 2], wins_b=[2, 2], ties=[0, 0],
                        n_systems=3, n_raters=2, prior=2 * PRIOR, eta_prior=(3.0, 1.0))
    np.testing.assert_allclose(halves.rating, wins.rating, atol=0.05)


def test_the_same_votes_give_the_same_fit_in_any_row_order() -> None:
    votes = simulate_rater_votes(strengths=[0.0, 0.5, 1.0, 1.5], etas=[0.9, 0.6, 0.95], votes_per_rater=40, seed=3)
    first = crowd_bt_fit(**votes, n_systems=4, n_raters=3)
    order = np.random.default_rng(0).permutation(votes["rater"].size)
    shuffled = crowd_bt_fit(**{key: value[order] for key, value in votes.items()}, n_systems=4, n_raters=3)
    again = crowd_bt_fit(**votes, n_systems=4, n_raters=3)
    np.testing.assert_array_equal(first.rating, again.rating)
    np.testing.assert_array_equal(first.eta, again.eta)
    np.testing.assert_array_equal(first.rating, shuffled.rating)


def test_a_system_without_decided_votes_is_not_rated() -> None:
    fit = crowd_bt_fit(rater=[0, 0], sys_a=[0, 1], sys_b=[1, 0], wins_a=[3, 1], wins_b=[1, 1], ties=[0, 0],
                       n_systems=3, n_raters=1)
    assert fit.rated.tolist() == [True, True, False]
    assert np.isnan(fit.rating[2]) and fit.rating[0] > fit.rating[1]
    assert fit.rating[:2].mean() == pytest.approx(1000.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rater": [0, 5]}, "rater index is out of range"),
        ({"sys_b": [0, 1]}, "pairs system 0 with itself"),
        ({"wins_a": [-1, 0]}, "wins_a holds a negative value"),
        ({"ties": [0]}, "ties has 1 entries, expected 2"),
        ({"prior": 0.0}, "prior must be a finite number > 0"),
        ({"eta_prior": (0.5, 1.0)}, "Beta prior on eta"),
    ],
)
def test_bad_input_is_refused_with_the_reason(change: dict, message: str) -> None:
    base = {"rater": [0, 1], "sys_a": [0, 1], "sys_b": [1, 2], "wins_a": [1, 0], "wins_b": [0, 1], "ties": [0, 0],
            "n_systems": 3, "n_raters": 2}
    with pytest.raises(ValueError, match=message):
        crowd_bt_fit(**{**base, **change})
