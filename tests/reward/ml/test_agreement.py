"""The reward model against people, checked against outside implementations (sklearn, scipy) and published worked
examples; people against people is tested with scoring.agreement."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

from reward.ml import agreement
from scoring.agreement import AgreementInputError, Estimate

SYSTEMS = ("s1", "s2", "s3", "s4")


def _votes(n: int, seed: int = 7, tie_rate: float = 0.15) -> dict[str, np.ndarray]:
    """Votes from an informative, noisy model: people follow a hidden quality gap, the model sees it blurred."""
    rng = np.random.default_rng(seed)
    gap = rng.normal(size=n)
    p_a = 1.0 / (1.0 + np.exp(-(gap + rng.normal(scale=0.8, size=n))))
    prefers_a = rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * gap))
    outcome = np.where(prefers_a, "a", "b").astype(object)
    outcome[rng.random(n) < tie_rate] = "tie"
    pairs = np.array(list(itertools.permutations(SYSTEMS, 2)))[rng.integers(0, 12, size=n)]
    return {
        "p_a": p_a,
        "outcome": outcome,
        "system_a": pairs[:, 0],
        "system_b": pairs[:, 1],
        "axis": rng.choice(["overall", "musicality", "prompt"], size=n),
        "prompt": np.array([f"prompt-{index:03d}" for index in rng.integers(0, n // 5, size=n)]),
    }


@pytest.fixture(scope="module")
def votes() -> dict[str, np.ndarray]:
    return _votes(400)


def _decisive(votes: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    decisive = votes["outcome"] != "tie"
    return votes["p_a"][decisive], (votes["outcome"][decisive] == "a").astype(int)


def _assert_interval_holds(estimate: Estimate) -> None:
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert estimate.low <= estimate.value <= estimate.high
    assert estimate.low < estimate.high


# Model versus people --------------------------------------------------------------------------------------------


def test_accuracy_equals_sklearn_accuracy_score_on_non_tie_votes(votes: dict[str, np.ndarray]) -> None:
    scores, labels = _decisive(votes)
    result = agreement.pairwise_accuracy(p_a=votes["p_a"], outcome=votes["outcome"])
    assert result.n == len(labels)
    assert result.value == pytest.approx(accuracy_score(labels, (scores > 0.5).astype(int)))
    _assert_interval_holds(result.bootstrap)
    _assert_interval_holds(result.wilson)


def test_accuracy_wilson_interval_equals_scipy_wilson(votes: dict[str, np.ndarray]) -> None:
    result = agreement.pairwise_accuracy(p_a=votes["p_a"], outcome=votes["outcome"])
    reference = stats.binomtest(int(result.correct), result.n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (result.wilson.low, result.wilson.high) == pytest.approx((reference.low, reference.high))


def test_an_exact_half_prediction_earns_half_a_point() -> None:
    result = agreement.pairwise_accuracy(p_a=[0.5, 0.9, 0.2, 0.5], outcome=["a", "a", "a", "b"])
    assert result.correct == 2.0
    assert result.value == 0.5


def test_tie_aware_accuracy_equals_three_way_accuracy_score(votes: dict[str, np.ndarray]) -> None:
    margin = 0.1
    calls = np.where(np.abs(votes["p_a"] - 0.5) < margin, "tie", np.where(votes["p_a"] > 0.5, "a", "b"))
    result = agreement.tie_aware_accuracy(p_a=votes["p_a"], outcome=votes["outcome"], tie_margin=margin)
    assert result.n == len(votes["outcome"])
    assert result.value == pytest.approx(accuracy_score(votes["outcome"].astype(str), calls))
    _assert_interval_holds(result.bootstrap)


def test_auc_equals_sklearn_roc_auc_score_with_tied_scores(votes: dict[str, np.ndarray]) -> None:
    coarse = np.round(votes["p_a"], 1)  # many equal scores, so the half-credit for ties is exercised
    scores, labels = _decisive({**votes, "p_a": coarse})
    result = agreement.preference_auc(p_a=coarse, outcome=votes["outcome"])
    assert result.value == pytest.approx(roc_auc_score(labels, scores))
    assert result.n == len(labels)
    _assert_interval_holds(result)


def test_auc_is_none_with_a_reason_when_only_one_side_ever_won() -> None:
    result = agreement.preference_auc(p_a=[0.2, 0.7, 0.9, 0.4], outcome=["a", "a", "tie", "a"])
    assert result.value is None and result.low is None
    assert result.n == 3
    assert result.reason is not None and "preferred A" in result.reason


def test_brier_and_log_loss_equal_sklearn_when_ties_are_excluded(votes: dict[str, np.ndarray]) -> None:
    scores, labels = _decisive(votes)
    result = agreement.calibration(p_a=votes["p_a"], outcome=votes["outcome"])
    assert result.n == len(labels)
    assert result.brier.value == pytest.approx(brier_score_loss(labels, scores))
    assert result.log_loss.value == pytest.approx(log_loss(labels, scores))
    for estimate in (result.brier, result.log_loss, result.ece):
        _assert_interval_holds(estimate)


def test_ties_as_half_targets_score_a_tie_against_one_half() -> None:
    p_a = np.array([0.8, 0.3, 0.6])
    result = agreement.calibration(p_a=p_a, outcome=["a", "b", "tie"], ties="half", n_bins=2)
    targets = np.array([1.0, 0.0, 0.5])
    assert result.n == 3
    assert result.brier.value == pytest.approx(np.mean((p_a - targets) ** 2))
    expected_loss = -np.mean(targets * np.log(p_a) + (1 - targets) * np.log(1 - p_a))
    assert result.log_loss.value == pytest.approx(expected_loss)
    # Bin (0, 0.5] holds 0.3 (target 0); bin (0.5, 1] holds 0.8 and 0.6 (targets 1 and 0.5).
    assert [b.count for b in result.bins] == [1, 2]
    assert result.bins[1].observed == pytest.approx(0.75)
    assert result.ece.value == pytest.approx((1 * abs(0.3 - 0.0) + 2 * abs(0.7 - 0.75)) / 3)


def test_reliability_curve_equals_sklearn_calibration_curve(votes: dict[str, np.ndarray]) -> None:
    scores, labels = _decisive(votes)
    result = agreement.calibration(p_a=votes["p_a"], outcome=votes["outcome"], n_bins=10)
    observed, predicted = calibration_curve(labels, scores, n_bins=10, strategy="uniform")
    filled = [b for b in result.bins if b.count]
    assert [b.observed for b in filled] == pytest.approx(list(observed))
    assert [b.mean_predicted for b in filled] == pytest.approx(list(predicted))
    counts, _ = np.histogram(scores, bins=np.linspace(0, 1, 11))
    assert [b.count for b in result.bins] == counts.tolist()
    filled_counts = counts[counts > 0]
    assert result.ece.value == pytest.approx(np.sum(filled_counts * np.abs(observed - predicted)) / len(scores))
    for reliability_bin in filled:
        assert reliability_bin.observed_low <= reliability_bin.observed <= reliability_bin.observed_high


def test_intervals_shrink_as_the_votes_grow() -> None:
    small, large = _votes(200, seed=3), _votes(3200, seed=3)
    small_report = agreement.model_agreement(p_a=small["p_a"], outcome=small["outcome"])
    large_report = agreement.model_agreement(p_a=large["p_a"], outcome=large["outcome"])

    def width(estimate: Estimate) -> float:
        assert estimate.low is not None and estimate.high is not None
        return estimate.high - estimate.low

    for pick in (
        lambda r: r.accuracy.bootstrap,
        lambda r: r.accuracy.wilson,
        lambda r: r.accuracy_with_ties.bootstrap,
        lambda r: r.auc,
        lambda r: r.calibration.brier,
        lambda r: r.calibration.log_loss,
        lambda r: r.calibration.ece,
    ):
        assert width(pick(large_report)) < width(pick(small_report)) / 2


def test_the_same_seed_gives_the_same_interval_and_another_seed_a_different_one(votes: dict[str, np.ndarray]) -> None:
    first = agreement.preference_auc(p_a=votes["p_a"], outcome=votes["outcome"], seed=11)
    again = agreement.preference_auc(p_a=votes["p_a"], outcome=votes["outcome"], seed=11)
    other = agreement.preference_auc(p_a=votes["p_a"], outcome=votes["outcome"], seed=12)
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)


def test_one_vote_clusters_resample_exactly_like_votes(votes: dict[str, np.ndarray]) -> None:
    labels = np.array([f"vote-{index:04d}" for index in range(len(votes["p_a"]))])
    plain = agreement.pairwise_accuracy(p_a=votes["p_a"], outcome=votes["outcome"])
    clustered = agreement.pairwise_accuracy(p_a=votes["p_a"], outcome=votes["outcome"], cluster=labels)
    assert clustered.value == plain.value
    assert (clustered.bootstrap.low, clustered.bootstrap.high) == (plain.bootstrap.low, plain.bootstrap.high)


def test_clusters_of_copied_votes_widen_the_interval(votes: dict[str, np.ndarray]) -> None:
    copies = 8
    p_a, outcome = np.repeat(votes["p_a"], copies), np.repeat(votes["outcome"], copies)
    cluster = np.repeat(np.arange(len(votes["p_a"])), copies)
    as_votes = agreement.pairwise_accuracy(p_a=p_a, outcome=outcome).bootstrap
    as_clusters = agreement.pairwise_accuracy(p_a=p_a, outcome=outcome, cluster=cluster).bootstrap
    assert as_votes.value == as_clusters.value
    assert (as_clusters.high - as_clusters.low) > 2 * (as_votes.high - as_votes.low)


def test_both_bad_votes_are_dropped_and_counted(votes: dict[str, np.ndarray]) -> None:
    outcome = votes["outcome"].copy()
    outcome[:25] = "both_bad"
    report = agreement.model_agreement(p_a=votes["p_a"], outcome=outcome)
    kept = agreement.model_agreement(p_a=votes["p_a"][25:], outcome=votes["outcome"][25:])
    assert report.n_dropped_both_bad == 25
    assert report.n_votes == len(outcome) - 25
    assert report.accuracy.value == kept.accuracy.value
    assert report.auc.value == kept.auc.value


def test_all_ties_leave_the_decisive_figures_undefined_without_crashing() -> None:
    p_a = [0.45, 0.52, 0.9, 0.3]
    report = agreement.model_agreement(p_a=p_a, outcome=["tie"] * 4)
    assert report.n_decisive == 0 and report.n_ties == 4
    assert report.accuracy.value is None and report.accuracy.bootstrap.reason == "no votes to score"
    assert report.auc.value is None and report.auc.reason == "no non-tie votes"
    assert report.calibration.brier.value is None
    assert report.accuracy_with_ties.value == 0.5  # 0.45 and 0.52 are called ties; 0.9 and 0.3 are not
    json.dumps(report.as_dict())


def test_a_breakdown_by_axis_equals_the_figures_on_each_axis_alone(votes: dict[str, np.ndarray]) -> None:
    report = agreement.model_agreement_by_group(p_a=votes["p_a"], outcome=votes["outcome"], group=votes["axis"])
    assert sorted(report) == ["musicality", "overall", "prompt"]
    for axis, figures in report.items():
        members = votes["axis"] == axis
        alone = agreement.model_agreement(p_a=votes["p_a"][members], outcome=votes["outcome"][members])
        assert figures == alone
    assert sum(figures.n_votes for figures in report.values()) == len(votes["p_a"])


def test_a_breakdown_by_system_counts_each_vote_for_both_systems_it_involves() -> None:
    report = agreement.model_agreement_by_group(
        p_a=[0.9, 0.2, 0.6, 0.7],
        outcome=["a", "a", "b", "a"],
        group=["x", "y", "x", "z"],
        also_group=["y", "z", "z", "z"],
    )
    assert {system: figures.n_votes for system, figures in report.items()} == {"x": 2, "y": 2, "z": 3}
    assert report["z"].accuracy.value == pytest.approx(1 / 3)  # votes 2, 3, 4: wrong, wrong, right


def test_system_rank_correlation_equals_scipy_kendall_and_spearman() -> None:
    reward = {"s1": 0.1, "s2": 0.4, "s3": 0.35, "s4": 0.9, "s5": 0.7, "s6": -0.2, "s7": 0.5}
    rating = {"s1": 980.0, "s2": 1010.0, "s3": 1040.0, "s4": 1100.0, "s5": 1060.0, "s6": 900.0, "s7": 990.0,
              "unscored": 1200.0}
    result = agreement.system_rank_correlation(reward=reward, rating=rating)
    names = sorted(reward)
    x, y = [reward[name] for name in names], [rating[name] for name in names]
    tau, rho = stats.kendalltau(x, y), stats.spearmanr(x, y)
    assert result.systems == names
    assert result.kendall_tau.n == result.spearman_rho.n == 7
    assert (result.kendall_tau.value, result.kendall_tau.p_value) == pytest.approx((tau.statistic, tau.pvalue))
    assert (result.spearman_rho.value, result.spearman_rho.p_value) == pytest.approx((rho.statistic, rho.pvalue))
    _assert_interval_holds(result.kendall_tau)
    _assert_interval_holds(result.spearman_rho)


def test_system_rank_correlation_reports_why_it_has_no_figure() -> None:
    too_few = agreement.system_rank_correlation(reward={"a": 1.0, "b": 2.0}, rating={"a": 1.0, "b": 3.0})
    assert too_few.kendall_tau.value is None and too_few.kendall_tau.reason == "needs at least 3 systems"
    ranks = {name: float(rank) for rank, name in enumerate("abcde")}
    constant = agreement.system_rank_correlation(reward=dict.fromkeys("abcde", 1.0), rating=ranks)
    assert constant.spearman_rho.value is None and "constant" in (constant.spearman_rho.reason or "")
    four = agreement.system_rank_correlation(
        reward={"a": 1.0, "b": 2.0, "c": 4.0, "d": 3.0}, rating={"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}
    )
    assert four.kendall_tau.value is not None and four.kendall_tau.low is None


def test_system_mean_reward_gives_a_t_interval_per_system() -> None:
    result = agreement.system_mean_reward(system=["x", "x", "x", "y"], reward=[1.0, 2.0, 4.0, 3.0])
    low, high = stats.t.interval(0.95, 2, loc=np.mean([1, 2, 4]), scale=stats.sem([1, 2, 4]))
    assert (result["x"].value, result["x"].low, result["x"].high) == pytest.approx((7 / 3, low, high))
    assert result["y"].n == 1 and result["y"].low is None


def test_baselines_are_scored_on_the_same_decisive_votes(votes: dict[str, np.ndarray]) -> None:
    ratings = {"s1": 1100.0, "s2": 1030.0, "s3": 980.0, "s4": 890.0}
    rating_a = np.array([ratings[name] for name in votes["system_a"]])
    rating_b = np.array([ratings[name] for name in votes["system_b"]])
    result = agreement.model_baselines(
        p_a=votes["p_a"], outcome=votes["outcome"], rating_a=rating_a, rating_b=rating_b
    )
    scores, labels = _decisive(votes)
    n = len(labels)
    assert result.n_decisive == n
    assert result.coin_flip.value == 0.5
    assert result.coin_flip.low == stats.binom.ppf(0.025, n, 0.5) / n
    assert result.coin_flip.high == stats.binom.ppf(0.975, n, 0.5) / n
    model_correct = int(((scores > 0.5).astype(int) == labels).sum())
    assert result.model_vs_coin_p_value == pytest.approx(stats.binomtest(model_correct, n).pvalue)
    assert result.always_a.value == pytest.approx(labels.mean())

    prior = 1 / (1 + 10 ** ((rating_b - rating_a) / 400))
    decisive = votes["outcome"] != "tie"
    assert result.rating_prior is not None and result.model_minus_rating_prior is not None
    prior_accuracy = accuracy_score(labels, (prior[decisive] > 0.5).astype(int))
    assert result.rating_prior.accuracy.value == pytest.approx(prior_accuracy)
    assert result.rating_prior.auc.value == pytest.approx(roc_auc_score(labels, prior[decisive]))
    assert result.model_minus_rating_prior.value == pytest.approx(model_correct / n - prior_accuracy)
    assert result.model_minus_always_a.value == pytest.approx(model_correct / n - labels.mean())
    _assert_interval_holds(result.model_minus_rating_prior)
    json.dumps(result.as_dict())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"p_a": [0.2, 0.4], "outcome": ["a", "maybe"]}, "Unknown outcomes"),
        ({"p_a": [0.2, 0.4], "outcome": ["a"]}, "differ in length"),
        ({"p_a": [0.2, 1.4], "outcome": ["a", "b"]}, r"lie in \[0, 1\]"),
        ({"p_a": [0.2, float("nan")], "outcome": ["a", "b"]}, "NaN"),
        ({"p_a": [0.2, 0.4], "outcome": ["a", "b"], "rounds": 200}, "at least 1000"),
    ],
)
def test_it_refuses_votes_it_cannot_score(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(AgreementInputError, match=message):
        agreement.pairwise_accuracy(**arguments)  # type: ignore[arg-type]


def test_anchoring_difference_reproduces_newcombes_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    shown = [True] * 70 + [False] * 80
    outcome = ["a"] * 56 + ["b"] * 14 + ["a"] * 48 + ["b"] * 32
    result = agreement.anchoring_effect(suggestion=["a"] * 150, outcome=outcome, shown=shown)
    assert result.difference.value == pytest.approx(0.2)
    assert (result.difference.low, result.difference.high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    reference = stats.binomtest(56, 70).proportion_ci(method="wilson")
    assert (result.shown.low, result.shown.high) == pytest.approx((reference.low, reference.high))
    assert (result.shown.n, result.hidden.n) == (70, 80)
    pooled = 104 / 150
    z = 0.2 / np.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert result.difference.p_value == pytest.approx(2 * stats.norm.sf(z))


def test_anchoring_leaves_ties_out_unless_asked_to_count_them_as_not_following() -> None:
    arguments = {"suggestion": ["a", "b", "a", "b"], "outcome": ["a", "tie", "tie", "a"], "shown": [1, 1, 0, 0]}
    without = agreement.anchoring_effect(**arguments)  # type: ignore[arg-type]
    assert (without.shown.value, without.shown.n, without.hidden.value, without.hidden.n) == (1.0, 1, 0.0, 1)
    counted = agreement.anchoring_effect(include_ties=True, **arguments)  # type: ignore[arg-type]
    assert (counted.shown.value, counted.shown.n, counted.hidden.n) == (0.5, 2, 2)
