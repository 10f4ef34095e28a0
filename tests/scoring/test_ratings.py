"""scoring.ratings against hand counts, choix, scikit-learn and simulations with known truth."""

from __future__ import annotations

import json
import math

import choix
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scoring.ratings import (
    ELO_PER_LOGIT,
    Outcome,
    PairCounts,
    bootstrap_ratings,
    bt_covariate_fit,
    bt_fit,
    elo_from_theta,
    leaderboard,
    online_elo,
    outcome_codes,
    percentile_intervals,
    ranks_from_intervals,
)


def simulate_votes(
    strengths: np.ndarray, votes: int, rng: np.random.Generator, *, tie_share: float = 0.0, both_bad_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniformly drawn pairs; Bradley–Terry winners; a share of ties and of both-bad votes drawn independently."""
    n = len(strengths)
    a = rng.integers(0, n, votes)
    b = (a + rng.integers(1, n, votes)) % n
    p_a = 1.0 / (1.0 + np.exp(-(strengths[a] - strengths[b])))
    outcome = np.where(rng.random(votes) < p_a, Outcome.A, Outcome.B)
    special = rng.random(votes)
    outcome[special < tie_share] = Outcome.TIE
    outcome[(special >= tie_share) & (special < tie_share + both_bad_share)] = Outcome.BOTH_BAD
    return a, b, outcome


@pytest.fixture(scope="module")
def votes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240611)
    strengths = rng.normal(0.0, 0.8, 8)
    a, b, outcome = simulate_votes(strengths, 20_000, rng, tie_share=0.15, both_bad_share=0.05)
    return strengths, a, b, outcome


# --- pair counts ------------------------------------------------------------------------------------------------


def test_battle_rows_count_like_a_hand_tally() -> None:
    a = [0, 0, 1, 2, 2, 1, 0]
    b = [1, 1, 0, 0, 1, 2, 2]
    o = [0, 1, 0, 2, 3, 1, 0]
    counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=4)
    wins = np.zeros((4, 4), dtype=int)
    ties = np.zeros((4, 4), dtype=int)
    both_bad = np.zeros((4, 4), dtype=int)
    for i, j, code in zip(a, b, o, strict=True):
        if code == 0:
            wins[i, j] += 1
        elif code == 1:
            wins[j, i] += 1
        elif code == 2:
            ties[i, j] += 1
            ties[j, i] += 1
        else:
            both_bad[i, j] += 1
            both_bad[j, i] += 1
    np.testing.assert_array_equal(counts.wins, wins)
    np.testing.assert_array_equal(counts.ties, ties)
    np.testing.assert_array_equal(counts.both_bad, both_bad)
    assert counts.total == 7
    assert counts.n == 4
    np.testing.assert_array_equal(counts.battle_matrix(), wins + wins.T + ties + both_bad)


def test_grouped_rows_in_either_order_give_the_same_counts_as_battle_rows(votes) -> None:
    _, a, b, o = votes
    from_rows = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)
    # What a GROUP BY (system_a, system_b) returns: each ordered pair once, so (i, j) and (j, i) both occur.
    keys, inverse = np.unique(np.column_stack([a, b]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    tallies = {code: np.bincount(inverse, weights=(o == code), minlength=len(keys)) for code in range(4)}
    grouped = PairCounts.from_grouped(
        sys_a=keys[:, 0], sys_b=keys[:, 1], wins_a=tallies[0], wins_b=tallies[1], ties=tallies[2],
        both_bad=tallies[3], n_systems=8,
    )
    for name in ("wins", "ties", "both_bad"):
        np.testing.assert_array_equal(getattr(grouped, name), getattr(from_rows, name))


def test_win_rate_matrix_counts_ties_half_and_leaves_unplayed_pairs_empty() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 0, 0, 0, 1], sys_b=[1, 1, 1, 1, 0], outcome=[0, 0, 2, 3, 0],
                                     n_systems=3)
    rate = counts.win_rate_matrix()
    # 0 vs 1: 0 won 2, lost 1, tied 1 (the both-bad vote is not a decision).
    assert rate[0, 1] == pytest.approx(2.5 / 4)
    assert rate[1, 0] == pytest.approx(1.5 / 4)
    assert np.isnan(rate[0, 2]) and np.isnan(rate[1, 1])
    assert counts.win_rate_matrix(include_both_bad=True)[0, 1] == pytest.approx(3.0 / 5)


def test_outcome_names_map_to_codes() -> None:
    np.testing.assert_array_equal(outcome_codes(iter(["a", "b", "tie", "both_bad", "model_a"])), [0, 1, 2, 3, 0])
    with pytest.raises(ValueError, match="unknown outcome 'draw' at row 1"):
        outcome_codes(["a", "draw"])


# --- agreement with independent implementations ----------------------------------------------------------------


def test_unregularised_fit_equals_choix_within_half_a_point(votes) -> None:
    _, a, b, o = votes
    ours = bt_fit(PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)).ratings()
    # choix takes (winner, loser) tuples without weights: every decision twice, a tie once each way = half wins.
    comparisons: list[tuple[int, int]] = []
    for i, j, code in zip(a.tolist(), b.tolist(), o.tolist(), strict=True):
        if code == Outcome.A:
            comparisons += [(i, j), (i, j)]
        elif code == Outcome.B:
            comparisons += [(j, i), (j, i)]
        elif code == Outcome.TIE:
            comparisons += [(i, j), (j, i)]
    reference = elo_from_theta(choix.ilsr_pairwise(8, comparisons, alpha=0.0, tol=1e-12, max_iter=1000))
    assert np.abs(ours - reference).max() < 0.5


def test_unregularised_fit_equals_logistic_regression_on_raw_rows_within_half_a_point(votes) -> None:
    _, a, b, o = votes
    ours = bt_fit(PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)).ratings()
    decided = o != Outcome.BOTH_BAD
    a, b, o = a[decided], b[decided], o[decided]
    rows = np.zeros((len(a), 8))
    rows[np.arange(len(a)), a] = 1.0
    rows[np.arange(len(a)), b] = -1.0
    # Each battle twice: once as "A preferred" and once as "B preferred", weighted by its share of the outcome.
    design = np.vstack([rows, rows])
    target = np.concatenate([np.ones(len(a)), np.zeros(len(a))])
    weight = np.concatenate([(o == Outcome.A) + 0.5 * (o == Outcome.TIE), (o == Outcome.B) + 0.5 * (o == Outcome.TIE)])
    model = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-10, max_iter=10_000)
    model.fit(design, target, sample_weight=weight)
    reference = elo_from_theta(model.coef_[0])
    assert np.abs(ours - reference).max() < 0.5


# --- recovery from simulations ---------------------------------------------------------------------------------


def test_it_recovers_known_strengths_from_twenty_thousand_votes(votes) -> None:
    strengths, a, b, o = votes
    counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)
    # Ties in the simulation are drawn regardless of strength, so counting them half to each side shrinks the
    # log-odds by the share of decided votes: the truth on the fitted scale is strengths * (1 - tie share).
    fit = bt_fit(counts)
    truth = elo_from_theta(strengths * (1.0 - 0.15 / 0.95))
    # Each system plays ~4,750 counted battles; its standard error is ~4.2 Elo points (bootstrap SD for this
    # design), so 20 points is ~5 SE for the worst of eight and 8 points ~2 SE for their mean absolute error.
    assert np.abs(fit.ratings() - truth).max() < 20.0
    assert np.abs(fit.ratings() - truth).mean() < 8.0


def test_bootstrap_intervals_cover_the_true_rating_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    strengths = np.array([-0.9, -0.3, 0.0, 0.4, 0.8])
    truth = elo_from_theta(strengths)
    covered = []
    for simulation in range(200):
        a, b, o = simulate_votes(strengths, 2_000, rng)
        counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=5)
        boot = bootstrap_ratings(counts, rounds=1000, seed=simulation)
        low, high = boot.intervals(0.95)
        covered.append((low <= truth) & (truth <= high))
    coverage = np.mean(covered)
    # 1,000 interval checks (200 simulations x 5 systems); were they independent the standard error of the
    # coverage would be sqrt(.95 * .05 / 1000) ~ 0.007, and the five systems of one simulation are correlated
    # (centring), so 0.90..0.99 leaves about four standard errors either side of 0.95.
    assert 0.90 <= coverage <= 0.99, coverage


def test_davidson_model_recovers_a_known_tie_parameter() -> None:
    rng = np.random.default_rng(11)
    strengths = rng.normal(0.0, 0.7, 8)
    nu = 0.8
    a = rng.integers(0, 8, 30_000)
    b = (a + rng.integers(1, 8, 30_000)) % 8
    d = strengths[a] - strengths[b]
    share_a, share_b = np.exp(d / 2), np.exp(-d / 2)
    total = share_a + share_b + nu
    u = rng.random(30_000)
    o = np.where(u < share_a / total, 0, np.where(u < (share_a + share_b) / total, 1, 2))
    counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)
    fit = bt_fit(counts, ties="davidson")
    # With ~27% ties among 30,000 votes nu has a bootstrap SD of ~0.010, so 0.05 is ~5 SD; the strengths'
    # SE is ~0.03 logits.
    assert fit.tie_param == pytest.approx(nu, abs=0.05)
    assert np.abs(fit.theta - (strengths - strengths.mean())).max() < 0.1
    board = leaderboard(counts, ties="davidson", rounds=300, prior=0.0)
    assert board.tie_param_ci is not None
    assert board.tie_param_ci[0] <= nu <= board.tie_param_ci[1]


def test_rao_kupper_model_recovers_a_known_tie_parameter() -> None:
    rng = np.random.default_rng(12)
    strengths = rng.normal(0.0, 0.7, 6)
    threshold = 1.5  # theta_RK; eta = log(1.5)
    eta = math.log(threshold)
    a = rng.integers(0, 6, 30_000)
    b = (a + rng.integers(1, 6, 30_000)) % 6
    d = strengths[a] - strengths[b]
    p_a = 1 / (1 + np.exp(-(d - eta)))
    p_b = 1 / (1 + np.exp(-(-d - eta)))
    u = rng.random(30_000)
    o = np.where(u < p_a, 0, np.where(u < p_a + p_b, 1, 2))
    fit = bt_fit(PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=6), ties="rao-kupper")
    # Bootstrap SD of theta_RK here is ~0.008 (16% ties); 0.05 is ~6 SD.
    assert fit.tie_param == pytest.approx(threshold, abs=0.05)
    assert np.abs(fit.theta - (strengths - strengths.mean())).max() < 0.1


def test_a_tie_model_refuses_votes_without_ties() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 1, 0], sys_b=[1, 2, 2], outcome=[0, 0, 1], n_systems=3)
    with pytest.raises(ValueError, match="needs at least one tie"):
        bt_fit(counts, ties="davidson")


# --- priors and degenerate data --------------------------------------------------------------------------------


def test_an_undefeated_system_has_no_maximum_likelihood_rating_and_the_error_says_why() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 0, 0, 1, 2], sys_b=[1, 2, 1, 2, 1], outcome=[0, 0, 0, 0, 0],
                                     n_systems=3)
    with pytest.raises(ValueError, match=r"not exist.*2 groups \[\[0\], \[1, 2\]\].*never lost.*prior > 0"):
        bt_fit(counts)


def test_a_small_prior_gives_an_undefeated_system_a_finite_top_rating() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 0, 0, 1, 2], sys_b=[1, 2, 1, 2, 1], outcome=[0, 0, 0, 0, 0],
                                     n_systems=3)
    ratings = bt_fit(counts, prior=0.01).ratings()
    assert np.all(np.isfinite(ratings))
    assert ratings[0] == ratings.max()
    assert ratings.mean() == pytest.approx(1000.0)
    board = leaderboard(counts, rounds=200)
    assert np.all(np.isfinite(board.ci_low)) and np.all(np.isfinite(board.ci_high))


def test_a_system_without_battles_is_named_and_left_unrated_on_the_leaderboard() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 1, 2, 0, 1, 2], sys_b=[1, 2, 0, 2, 0, 1], outcome=[0, 0, 0, 1, 0, 2],
                                     n_systems=4)
    with pytest.raises(ValueError, match=r"systems with no counted battles: \[3\]"):
        bt_fit(counts)
    board = leaderboard(counts, rounds=100)
    assert board.rated.tolist() == [True, True, True, False]
    assert np.isnan(board.rating[3])
    assert board.rating[:3].mean() == pytest.approx(1000.0)
    rows = board.rows(names=["w", "x", "y", "z"])
    assert rows[-1]["system"] == "z" and rows[-1]["rating"] is None and rows[-1]["rank"] is None


def test_disconnected_groups_get_ratings_from_the_prior_and_are_reported() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 1, 2, 3], sys_b=[1, 0, 3, 2], outcome=[0, 0, 0, 2], n_systems=4)
    board = leaderboard(counts, rounds=100)
    assert board.groups == 2
    assert np.all(np.isfinite(board.rating))


def test_bootstrap_without_a_prior_refuses_replicas_that_lose_their_estimate() -> None:
    # Strongly connected, but one loss of system 0 carries it: many resamples drop it.
    counts = PairCounts.from_battles(sys_a=[0, 0, 0, 1, 1, 2, 2], sys_b=[1, 1, 2, 2, 2, 0, 1],
                                     outcome=[0, 0, 0, 0, 1, 0, 0], n_systems=3)
    bt_fit(counts)
    with pytest.raises(ValueError, match="bootstrap replica .* Pass prior > 0"):
        bootstrap_ratings(counts, rounds=200)
    assert np.all(np.isfinite(bootstrap_ratings(counts, rounds=200, prior=0.01).ratings))


# --- scale, intervals, ranks -----------------------------------------------------------------------------------


def test_elo_scale_is_400_log10_odds_centred_or_anchored() -> None:
    theta = np.array([0.0, math.log(10.0), -1.0])
    centred = elo_from_theta(theta)
    assert centred.mean() == pytest.approx(1000.0)
    assert centred[1] - centred[0] == pytest.approx(400.0)
    anchored = elo_from_theta(theta, anchor=2, anchor_rating=1200.0)
    assert anchored[2] == pytest.approx(1200.0)
    assert anchored[0] - anchored[2] == pytest.approx(ELO_PER_LOGIT)


def test_rank_is_one_plus_the_systems_clearly_above() -> None:
    low = np.array([1100.0, 1080.0, 1000.0, 990.0, 900.0])
    high = np.array([1150.0, 1120.0, 1090.0, 1010.0, 980.0])
    # 1: nobody's low above 1150; 2: nobody's low above 1120; 3: 1100 > 1090 -> 1 above;
    # 4: 1100, 1080 > 1010 -> 2 above; 5: lows 1100, 1080, 1000, 990 > 980 -> 4 above.
    assert ranks_from_intervals(low, high).tolist() == [1, 1, 2, 3, 5]


def test_percentile_intervals_refuse_a_level_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="level"):
        percentile_intervals(np.zeros((10, 2)), level=95)


def test_the_same_seed_gives_the_same_bootstrap(votes) -> None:
    _, a, b, o = votes
    counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)
    first = bootstrap_ratings(counts, rounds=50, seed=3).ratings
    np.testing.assert_array_equal(first, bootstrap_ratings(counts, rounds=50, seed=3).ratings)
    assert not np.array_equal(first, bootstrap_ratings(counts, rounds=50, seed=4).ratings)


def test_resampling_counts_matches_resampling_battles_with_replacement() -> None:
    rng = np.random.default_rng(3)
    a, b, o = simulate_votes(np.array([-0.5, 0.0, 0.2, 0.6]), 400, rng, tie_share=0.2, both_bad_share=0.1)
    counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=4)
    by_counts = bootstrap_ratings(counts, rounds=1000, prior=0.01, seed=5).ratings
    by_rows = []
    for _ in range(1000):
        pick = rng.integers(0, len(a), len(a))
        resampled = PairCounts.from_battles(sys_a=a[pick], sys_b=b[pick], outcome=o[pick], n_systems=4)
        by_rows.append(bt_fit(resampled, prior=0.01).ratings())
    by_rows = np.array(by_rows)
    spread = by_rows.std(axis=0)
    # Two independent 1,000-round bootstraps of one distribution: the means differ by ~0.045 SD and the SDs by
    # ~3% (Monte Carlo error), so 0.15 SD and 10% are over three standard errors.
    assert np.all(np.abs(by_counts.mean(axis=0) - by_rows.mean(axis=0)) < 0.15 * spread)
    assert np.all(np.abs(by_counts.std(axis=0) / spread - 1.0) < 0.10)


# --- online Elo ------------------------------------------------------------------------------------------------


def test_online_elo_matches_a_hand_computation_on_three_battles() -> None:
    ratings = online_elo(sys_a=[0, 1, 0], sys_b=[1, 2, 2], outcome=[0, 2, 1], n_systems=3)

    def expected(r_self: float, r_other: float) -> float:
        return 1.0 / (1.0 + 10.0 ** ((r_other - r_self) / 400.0))

    r = [1000.0, 1000.0, 1000.0]
    # Battle 1: 0 beats 1 at equal ratings: expectation 0.5, so +-4 * 0.5.
    r[0], r[1] = 1002.0, 998.0
    # Battle 2: 1 (998) ties 2 (1000).
    e = expected(r[1], r[2])
    r[1], r[2] = r[1] + 4 * (0.5 - e), r[2] - 4 * (0.5 - e)
    # Battle 3: 2 (clip B) beats 0.
    e = expected(r[0], r[2])
    r[0], r[2] = r[0] + 4 * (0.0 - e), r[2] - 4 * (0.0 - e)
    np.testing.assert_allclose(ratings, r, rtol=0, atol=1e-9)
    assert ratings[1] == pytest.approx(998.0115, abs=1e-4)


def test_online_elo_skips_both_bad_votes_unless_asked_to_count_them_as_ties() -> None:
    skipped = online_elo(sys_a=[0], sys_b=[1], outcome=[3], n_systems=2)
    assert skipped.tolist() == [1000.0, 1000.0]
    # A tie at equal ratings moves nothing either; a tie after a win does.
    counted = online_elo(sys_a=[0, 0], sys_b=[1, 1], outcome=[0, 3], n_systems=2, both_bad_as_tie=True)
    assert counted[0] < 1002.0


# --- covariates ------------------------------------------------------------------------------------------------


def test_covariate_model_recovers_a_loudness_effect_and_removes_its_bias() -> None:
    rng = np.random.default_rng(5)
    n, votes = 6, 30_000
    strengths = np.array([0.3, -0.2, 0.1, 0.0, -0.4, 0.2])
    # Louder systems: mean loudness spread over 6 LU, each clip varying by 2 LU around it.
    system_loudness = np.array([-14.0, -8.0, -12.0, -10.0, -9.0, -13.0])
    beta_loudness, beta_position = 0.12, 0.15
    a = rng.integers(0, n, votes)
    b = (a + rng.integers(1, n, votes)) % n
    loud_a = system_loudness[a] + rng.normal(0, 2, votes)
    loud_b = system_loudness[b] + rng.normal(0, 2, votes)
    dur_diff = rng.normal(0, 5, votes)  # no effect on the votes
    logit = strengths[a] - strengths[b] + beta_loudness * (loud_a - loud_b) + beta_position
    o = np.where(rng.random(votes) < 1 / (1 + np.exp(-logit)), 0, 1)
    truth = elo_from_theta(strengths)

    naive = bt_fit(PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=n)).ratings()
    fit = bt_covariate_fit(sys_a=a, sys_b=b, outcome=o, n_systems=n,
                           covariates={"loudness_diff": loud_a - loud_b, "duration_diff": dur_diff})
    # The uncontrolled fit credits the loudest system (1, 3 LU above the average) with 0.12 * 3 logits ~ 63 Elo
    # points and takes as much from the quietest.
    assert np.abs(naive - truth).max() > 40.0
    # The controlled ratings' standard errors are 3-4 points (observed information): within 4 SE of the truth.
    assert np.all(np.abs(fit.rating - truth) < 4 * fit.rating_se)
    assert np.abs(fit.rating - truth).max() < 15.0
    for name, true_value in (("loudness_diff", beta_loudness), ("duration_diff", 0.0), ("position_a", beta_position)):
        assert abs(fit.coef[name] - true_value) < 4 * fit.coef_se[name], name
    assert fit.coef_elo["loudness_diff"] == pytest.approx(fit.coef["loudness_diff"] * ELO_PER_LOGIT)


def test_covariate_model_without_covariates_is_plain_bradley_terry(votes) -> None:
    _, a, b, o = votes
    plain = bt_fit(PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)).ratings()
    fit = bt_covariate_fit(sys_a=a, sys_b=b, outcome=o, n_systems=8, position_effect=False)
    assert np.abs(fit.rating - plain).max() < 1e-6
    assert fit.names == ()


def test_collapsing_identical_rows_changes_nothing_but_the_row_count() -> None:
    rng = np.random.default_rng(8)
    a, b, o = simulate_votes(np.array([0.2, -0.1, 0.0, 0.4]), 5_000, rng, tie_share=0.1)
    loudness = np.round(rng.normal(0, 2, len(a)))  # a few distinct values, so rows repeat
    side = np.where(rng.random(len(a)) < 0.5, 1.0, -1.0)
    kwargs = {"sys_a": a, "sys_b": b, "outcome": o, "n_systems": 4, "covariates": {"loudness_diff": loudness},
              "position": side}
    merged = bt_covariate_fit(collapse=True, **kwargs)
    plain = bt_covariate_fit(collapse=False, **kwargs)
    assert merged.rows < plain.rows == 5_000
    np.testing.assert_allclose(merged.rating, plain.rating, atol=1e-8)
    np.testing.assert_allclose(merged.rating_se, plain.rating_se, rtol=1e-8)
    assert merged.coef == pytest.approx(plain.coef, abs=1e-10)


def test_covariate_model_refuses_a_covariate_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="covariate 'loudness_diff' has shape"):
        bt_covariate_fit(sys_a=[0, 1], sys_b=[1, 0], outcome=[0, 0], covariates={"loudness_diff": [1.0]})


# --- leaderboard -----------------------------------------------------------------------------------------------


def test_leaderboard_reports_tallies_intervals_and_ranks_as_plain_python(votes) -> None:
    _, a, b, o = votes
    counts = PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o, n_systems=8)
    board = leaderboard(counts, rounds=200, seed=1)
    assert np.all(board.ci_low <= board.rating) and np.all(board.rating <= board.ci_high)
    np.testing.assert_array_equal(board.rank, ranks_from_intervals(board.ci_low, board.ci_high))
    np.testing.assert_array_equal(board.n, board.wins + board.losses + board.ties + board.both_bad)
    assert int(board.n.sum()) == 2 * len(a) == 2 * board.vote_count
    assert board.wins.sum() == board.losses.sum() == np.sum(o <= 1)
    i = 0
    assert board.win_rate[i] == pytest.approx((board.wins[i] + board.ties[i] / 2) / (board.wins[i] + board.losses[i]
                                                                                    + board.ties[i]))
    payload = json.loads(json.dumps(board.to_dict(names=[f"s{k}" for k in range(8)])))
    assert [row["rank"] for row in payload["rows"]] == sorted(row["rank"] for row in payload["rows"])
    assert len(payload["win_rate"]) == 8 and payload["win_rate"][0][0] is None
    assert payload["method"]["rounds"] == 200


def test_leaderboard_anchors_a_chosen_system() -> None:
    rng = np.random.default_rng(2)
    a, b, o = simulate_votes(np.array([0.0, 0.5, 1.0]), 600, rng)
    board = leaderboard(PairCounts.from_battles(sys_a=a, sys_b=b, outcome=o), anchor=0, anchor_rating=1500.0,
                        rounds=100)
    assert board.rating[0] == pytest.approx(1500.0)
    assert board.ci_low[0] == pytest.approx(1500.0) and board.ci_high[0] == pytest.approx(1500.0)


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sys_a": [0, 1], "sys_b": [1], "outcome": [0, 0]}, "differ in length: sys_a=2, sys_b=1, outcome=2"),
        ({"sys_a": [0, 1], "sys_b": [1, 0], "outcome": [0, 5]}, "unknown outcome code 5 at row 1"),
        ({"sys_a": [0, 1], "sys_b": [1, 1], "outcome": [0, 0]}, "cannot battle itself"),
        ({"sys_a": [0, -1], "sys_b": [1, 0], "outcome": [0, 0]}, "non-negative"),
        ({"sys_a": [0, 3], "sys_b": [1, 0], "outcome": [0, 0], "n_systems": 3}, "out of range"),
        ({"sys_a": [0.5], "sys_b": [1], "outcome": [0]}, "whole numbers"),
    ],
)
def test_battle_rows_are_refused_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PairCounts.from_battles(**kwargs)


def test_negative_grouped_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="wins_b is negative at row 0"):
        PairCounts.from_grouped(sys_a=[0], sys_b=[1], wins_a=[3], wins_b=[-1], ties=[0], both_bad=[0])


def test_count_matrices_must_be_square_non_negative_and_symmetric_in_ties() -> None:
    zeros = np.zeros((2, 2), dtype=int)
    with pytest.raises(ValueError, match="negative count"):
        PairCounts(wins=np.array([[0, -1], [0, 0]]), ties=zeros, both_bad=zeros)
    with pytest.raises(ValueError, match="ties must be symmetric"):
        PairCounts(wins=zeros, ties=np.array([[0, 1], [0, 0]]), both_bad=zeros)
    with pytest.raises(ValueError, match="square"):
        PairCounts(wins=np.zeros((2, 3)), ties=zeros, both_bad=zeros)


def test_fit_options_are_checked() -> None:
    counts = PairCounts.from_battles(sys_a=[0, 1], sys_b=[1, 0], outcome=[0, 0])
    with pytest.raises(ValueError, match="unknown tie model 'bradley'"):
        bt_fit(counts, ties="bradley")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prior must be"):
        bt_fit(counts, prior=-1.0)
