"""People-versus-people agreement and the shared intervals, checked against outside implementations (sklearn,
statsmodels, krippendorff, scipy) and published worked examples."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from scoring import agreement
from scoring.agreement import AgreementInputError, Estimate


def _assert_interval_holds(estimate: Estimate) -> None:
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert estimate.low <= estimate.value <= estimate.high
    assert estimate.low < estimate.high


# Shared intervals -----------------------------------------------------------------------------------------------


def test_wilson_interval_equals_scipy_wilson_with_and_without_half_credits() -> None:
    reference = stats.binomtest(17, 40).proportion_ci(confidence_level=0.95, method="wilson")
    assert agreement.wilson_interval(17, 40) == pytest.approx((reference.low, reference.high))
    low, high = agreement.wilson_interval(17.5, 40) or (0.0, 0.0)
    assert low < 17.5 / 40 < high
    assert agreement.wilson_interval(0, 0) is None


def test_newcombe_interval_reproduces_newcombes_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    interval = agreement.newcombe_difference_interval(56, 70, 48, 80)
    assert interval == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert agreement.newcombe_difference_interval(56, 70, 0, 0) is None


def test_the_bootstrap_refuses_too_few_rounds() -> None:
    with pytest.raises(AgreementInputError, match="at least 1000"):
        agreement.fleiss_kappa(item=["p1", "p1", "p2", "p2"], choice=["a", "b", "a", "a"], rounds=200)


# People versus people -------------------------------------------------------------------------------------------

# Fleiss (1971) as worked in most textbooks: 10 subjects, 14 raters each, 5 categories; kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers x 12 units, nominal, with missing
# values (None); alpha = 0.743.
KRIPPENDORFF_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _votes_from_reliability_data(data: list[list[int | None]]) -> tuple[list[str], list[str], list[str]]:
    items, choices, raters = [], [], []
    for observer, row in enumerate(data):
        for unit, value in enumerate(row):
            if value is not None:
                items.append(f"unit-{unit:02d}")
                choices.append(str(value))
                raters.append(f"observer-{observer}")
    return items, choices, raters


def test_fleiss_kappa_reproduces_the_fleiss_1971_worked_example() -> None:
    assert agreement.fleiss_kappa_from_counts(FLEISS_TABLE) == pytest.approx(0.210, abs=5e-4)
    report = agreement.rater_agreement_from_counts(FLEISS_TABLE)
    assert report.fleiss_kappa.value == pytest.approx(0.210, abs=5e-4)
    assert report.n_items == 10 and report.n_votes == 140
    assert report.pairwise_agreement.value == pytest.approx(0.378, abs=5e-4)  # the example's P-bar
    _assert_interval_holds(report.fleiss_kappa)


def test_fleiss_kappa_equals_statsmodels_on_equal_counts() -> None:
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    table = np.random.default_rng(5).multinomial(6, [0.5, 0.3, 0.2], size=40)
    assert agreement.fleiss_kappa_from_counts(table) == pytest.approx(inter_rater.fleiss_kappa(table))


def test_fleiss_kappa_with_unequal_counts_pools_category_shares_over_all_votes() -> None:
    # Agreement within items: 1, 0, 1, 1/3 -> mean 7/12. Category shares 7/10 and 3/10 -> chance 0.58.
    # kappa = (7/12 - 0.58) / 0.42 = 1/126.
    table = [[2, 0], [1, 1], [3, 0], [1, 2], [1, 0]]  # the last item has one vote and is left out
    assert agreement.fleiss_kappa_from_counts(table) == pytest.approx(1 / 126)


def test_krippendorff_alpha_reproduces_krippendorffs_nominal_example_with_missing_data() -> None:
    items, choices, _ = _votes_from_reliability_data(KRIPPENDORFF_DATA)
    result = agreement.krippendorff_alpha(item=items, choice=choices)
    assert result.value == pytest.approx(0.743, abs=5e-4)
    assert result.n == 11  # unit 12 has a single value and is not pairable
    _assert_interval_holds(result)


def test_krippendorff_alpha_equals_the_krippendorff_package() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(9)
    data = rng.integers(0, 3, size=(5, 60)).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    items, choices = [], []
    for row in data:
        for unit, value in enumerate(row):
            if not np.isnan(value):
                items.append(str(unit))
                choices.append(str(int(value)))
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert agreement.krippendorff_alpha(item=items, choice=choices).value == pytest.approx(expected)


def test_krippendorff_alpha_on_unequal_counts_by_hand() -> None:
    # Disagreeing pairs per unit, divided by (m_u - 1): 0, 2, 0, 2 -> 4; n = 10 values, 7 and 3 per category.
    # alpha = 1 - (n - 1) * 4 / (n^2 - 7^2 - 3^2) = 1 - 36/42 = 1/7.
    assert agreement.krippendorff_alpha_from_counts([[2, 0], [1, 1], [3, 0], [1, 2]]) == pytest.approx(1 / 7)


def test_cohen_kappa_equals_sklearn_on_the_first_two_votes_of_each_item() -> None:
    rng = np.random.default_rng(4)
    truth = rng.choice(["a", "b", "tie"], p=[0.45, 0.4, 0.15], size=150)
    items, choices = [], []
    for index, answer in enumerate(truth):
        for _ in range(rng.integers(1, 5)):
            items.append(f"pair-{index}")
            choices.append(answer if rng.random() < 0.7 else rng.choice(["a", "b", "tie"]))
    order = rng.permutation(len(items))  # votes on an item arrive interleaved with others
    items, choices = list(np.array(items)[order]), list(np.array(choices)[order])
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    for item, choice in zip(items, choices, strict=True):
        if item not in first:
            first[item] = choice
        elif item not in second:
            second[item] = choice
    shared = sorted(second)
    expected = cohen_kappa_score([first[key] for key in shared], [second[key] for key in shared])
    result = agreement.cohen_kappa(item=items, choice=choices)
    assert result.n == len(shared)
    assert result.value == pytest.approx(expected)
    _assert_interval_holds(result)


def test_light_kappa_is_the_mean_of_sklearn_cohen_kappa_over_rater_pairs() -> None:
    rng = np.random.default_rng(8)
    truth = rng.choice(["a", "b"], size=60)
    raters = ["ann", "bob", "cat"]
    items, choices, who = [], [], []
    for index, answer in enumerate(truth):
        for rater in raters:
            if rng.random() < 0.8:
                items.append(f"pair-{index}")
                choices.append(answer if rng.random() < 0.75 else ("a" if answer == "b" else "b"))
                who.append(rater)
    expected = []
    for left, right in itertools.combinations(raters, 2):
        left_votes = {i: c for i, c, r in zip(items, choices, who, strict=True) if r == left}
        right_votes = {i: c for i, c, r in zip(items, choices, who, strict=True) if r == right}
        shared = sorted(set(left_votes) & set(right_votes))
        expected.append(cohen_kappa_score([left_votes[i] for i in shared], [right_votes[i] for i in shared]))
    report = agreement.rater_agreement(item=items, choice=choices, rater=who)
    assert report.n_rater_pairs == 3
    assert report.light_kappa is not None
    assert report.light_kappa.value == pytest.approx(np.mean(expected))
    _assert_interval_holds(report.light_kappa)
    assert agreement.light_kappa(item=items, choice=choices, rater=who) == report.light_kappa


def test_pairwise_and_majority_agreement_by_hand() -> None:
    items = ["p1"] * 3 + ["p2"] * 4 + ["p3"] * 2 + ["p4"]
    choices = ["a", "a", "b"] + ["a", "a", "a", "b"] + ["a", "b"] + ["a"]
    report = agreement.rater_agreement(item=items, choice=choices)
    assert report.n_items == 3 and report.n_votes == 9  # p4 has one vote
    # Agreeing pairs: p1 1 of 3, p2 3 of 6, p3 0 of 1 -> mean over items 5/18.
    assert report.pairwise_agreement.value == pytest.approx(5 / 18)
    # p1: each "a" faces a 1-1 tie among the others (1/2 each), "b" faces "a, a" (0) -> 1 of 3.
    # p2: each "a" faces a majority "a" (1 each), "b" faces "a" (0) -> 3 of 4.  p3 has too few votes.
    assert report.majority_agreement.value == pytest.approx(4 / 7)
    assert report.majority_agreement.n == 2


def test_order_normalising_makes_one_item_of_a_pair_shown_either_way_round() -> None:
    items, choices = agreement.pair_votes_normalise(
        clip_a=["c2", "c1", "c1", "c3"], clip_b=["c1", "c2", "c2", "c1"], outcome=["a", "b", "tie", "a"]
    )
    assert list(items) == ["c1|c2", "c1|c2", "c1|c2", "c1|c3"]
    assert list(choices) == ["b", "b", "tie", "b"]  # both first votes chose c2
    report = agreement.rater_agreement(item=items, choice=choices)
    assert report.n_items == 1 and report.pairwise_agreement.value == pytest.approx(1 / 3)


def test_people_intervals_contain_the_estimate_and_shrink_with_more_items() -> None:
    def table(n_items: int) -> np.ndarray:
        rng = np.random.default_rng(2)
        leaning = rng.choice([0.8, 0.2, 0.5], size=n_items)
        a_votes = rng.binomial(4, leaning)
        return np.column_stack([a_votes, 4 - a_votes])

    small = agreement.rater_agreement_from_counts(table(50), categories=["a", "b"])
    large = agreement.rater_agreement_from_counts(table(800), categories=["a", "b"])
    for name in ("pairwise_agreement", "fleiss_kappa", "krippendorff_alpha", "majority_agreement"):
        small_estimate, large_estimate = getattr(small, name), getattr(large, name)
        _assert_interval_holds(small_estimate)
        _assert_interval_holds(large_estimate)
        assert (large_estimate.high - large_estimate.low) < (small_estimate.high - small_estimate.low) / 2


def test_kappa_is_none_with_a_reason_when_everyone_picks_the_same_side() -> None:
    report = agreement.rater_agreement(item=["p1", "p1", "p2", "p2", "p2"], choice=["a"] * 5)
    assert report.pairwise_agreement.value == 1.0
    assert report.fleiss_kappa.value is None and "same category" in (report.fleiss_kappa.reason or "")
    assert report.krippendorff_alpha.value is None
    assert report.cohen_kappa is not None and report.cohen_kappa.value is None
    assert report.majority_agreement.value == 1.0
    json.dumps(report.as_dict())


def test_no_item_with_two_votes_gives_reasons_not_figures() -> None:
    report = agreement.rater_agreement(item=["p1", "p2"], choice=["a", "b"])
    assert report.n_items == 0
    assert report.fleiss_kappa.reason == "no item has 2 or more votes"
    assert report.majority_agreement.reason == "no item has 3 or more votes"
