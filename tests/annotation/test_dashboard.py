"""A campaign's dashboard on fixed votes: its agreement figures equal the reference libraries' (krippendorff,
statsmodels, scikit-learn) and a direct count; its progress, timing, rater and board figures; the API's schema; and
that only staff see it."""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from annotation.dashboard import agreement_counts, campaign_dashboard
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater
from arena.models import Battle, Vote
from core.axes import Axis
from scoring.models import LeaderboardSnapshot
from scoring.scopes import scope_parse
from scoring.services import snapshot_refresh
from tests.annotation.campaign_support import SmallCampaign, member_join, small_campaign
from tests.arena.arena_support import arena_isolated  # noqa: F401
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

OUTCOMES = ["a", "b", "tie", "both_bad"]

# Labels per regular pair (rows, in the pair's own order) and rater (columns); None: that rater did not vote on it.
# Six pairs of three systems x two prompts, four raters, k = 3: every pair has three overall votes.
OVERALL = [
    ["a", "a", "a", None],
    ["b", "a", None, "b"],
    ["a", None, "tie", "both_bad"],
    [None, "b", "b", "b"],
    ["tie", "tie", None, "a"],
    ["both_bad", None, "b", "both_bad"],
]
# Musicality where asked: some votes leave it blank (pairs with 2 and 1 answers: unequal counts, a missing value).
MUSICALITY = [
    ["a", "b", "a", None],
    ["b", "", None, "b"],
    ["a", None, "", ""],
    [None, "b", "a", "tie"],
    ["tie", "a", None, "a"],
    ["b", None, "b", "both_bad"],
]
# Which votes the battle showed the other way round (the vote is written as the rater saw it).
SWAPPED = {(0, 1), (1, 3), (2, 2), (3, 1), (4, 0), (5, 3), (5, 0)}
SERVER_SECONDS = [4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38]


@dataclass
class Written:
    made: SmallCampaign
    members: list[CampaignRater]
    pairs: list[CampaignPair]


def _flip(choice: str) -> str:
    return {"a": "b", "b": "a"}.get(choice, choice)


def vote_write(
    *, pair: CampaignPair, member: CampaignRater, choice: str, swapped: bool, seconds: float, decision_ms: int,
    **axes: str,
) -> Vote:
    """A finished regular item written as rows, as the vote path leaves them: the battle (sides as shown), the
    done lease, the vote (as the rater saw it) and the counters."""
    now = timezone.now()
    clip_a, clip_b = (pair.clip_b, pair.clip_a) if swapped else (pair.clip_a, pair.clip_b)
    battle = Battle.objects.create(
        rater=member.rater, prompt=pair.prompt, clip_a=clip_a, clip_b=clip_b, mode=Battle.Mode.CAMPAIGN,
        status=Battle.Status.VOTED, expires_at=now + timedelta(hours=1), reveal_systems=False,
    )
    Battle.objects.filter(pk=battle.pk).update(created_at=now - timedelta(seconds=seconds))
    Assignment.objects.create(
        pair=pair, member=member, battle=battle, kind=pair.kind, status=Assignment.Status.DONE,
        leased_at=now - timedelta(seconds=seconds), expires_at=now + timedelta(minutes=20), finished_at=now,
    )
    shown = {name: (_flip(value) if swapped else value) for name, value in axes.items()}
    vote = Vote.objects.create(
        battle=battle, rater=member.rater, system_a=clip_a.system, system_b=clip_b.system, prompt=pair.prompt,
        choice=_flip(choice) if swapped else choice, decision_ms=decision_ms, **shown,
    )
    pair.votes_done += 1
    pair.save(update_fields=["votes_done"])
    member.votes += 1
    member.save(update_fields=["votes"])
    return vote


def fixed_campaign(**fields: Any) -> Written:
    made = small_campaign(systems=3, prompts=2, overlap=3, axes=["overall", "musicality"], **fields)
    members = [member_join(made.campaign) for _ in range(4)]
    pairs = made.regular_pairs()
    seconds = iter(SERVER_SECONDS)
    for row, pair in enumerate(pairs):
        for column, member in enumerate(members):
            choice = OVERALL[row][column]
            if choice is None:
                continue
            vote_write(
                pair=pair, member=member, choice=choice, swapped=(row, column) in SWAPPED, seconds=next(seconds),
                decision_ms=1000 * (row + 1), musicality=MUSICALITY[row][column] or "",
            )
    return Written(made, members, pairs)


def reliability_data(table: list[list[str | None]]) -> np.ndarray:
    """raters x pairs, each label's index among OUTCOMES, NaN where missing (krippendorff's layout)."""
    data = np.full((len(table[0]), len(table)), np.nan)
    for row, labels in enumerate(table):
        for column, label in enumerate(labels):
            if label:
                data[column, row] = OUTCOMES.index(label)
    return data


def direct_percent_agreement(table: list[list[str | None]]) -> float:
    shares = []
    for labels in table:
        given = [label for label in labels if label]
        if len(given) >= 2:
            pairs = list(itertools.combinations(given, 2))
            shares.append(sum(one == two for one, two in pairs) / len(pairs))
    return sum(shares) / len(shares)


def direct_majority_agreement(table: list[list[str | None]]) -> float:
    """Each vote on a pair with >= 3 votes against the majority of the others; a tie of k labels earns 1/k."""
    credit, scored = 0.0, 0
    for labels in table:
        given = [label for label in labels if label]
        if len(given) < 3:
            continue
        for index, label in enumerate(given):
            others = Counter(given[:index] + given[index + 1:])
            top = max(others.values())
            tied = [value for value, count in others.items() if count == top]
            credit += (1 / len(tied)) if label in tied else 0.0
            scored += 1
    return credit / scored


def _figures(dashboard: dict[str, Any], axis: str) -> dict[str, Any]:
    return next(entry for entry in dashboard["agreement"] if entry["axis"] == axis)


def test_the_agreement_figures_equal_the_libraries_on_fixed_votes() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    written = fixed_campaign()
    dashboard = campaign_dashboard(campaign=written.made.campaign)

    overall = _figures(dashboard, "overall")
    assert overall["n_items"] == 6 and overall["n_votes"] == 18
    data = reliability_data(OVERALL)
    given = np.array([[OUTCOMES.index(label) for label in labels if label] for labels in OVERALL])
    counts, _ = inter_rater.aggregate_raters(given, n_cat=len(OUTCOMES))
    assert overall["fleiss_kappa"]["value"] == pytest.approx(inter_rater.fleiss_kappa(counts, method="fleiss"))
    assert overall["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    )
    assert overall["pairwise_agreement"]["value"] == pytest.approx(direct_percent_agreement(OVERALL))
    assert overall["majority_agreement"]["value"] == pytest.approx(direct_majority_agreement(OVERALL))
    assert overall["majority_agreement"]["n"] == 6

    # Musicality: two pairs have fewer answers, one has a single one and is left out (not pairable).
    musicality = _figures(dashboard, "musicality")
    assert musicality["n_items"] == 5 and musicality["n_votes"] == 14
    assert musicality["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=reliability_data(MUSICALITY), level_of_measurement="nominal")
    )
    assert musicality["pairwise_agreement"]["value"] == pytest.approx(direct_percent_agreement(MUSICALITY))
    assert musicality["majority_agreement"]["value"] == pytest.approx(direct_majority_agreement(MUSICALITY))
    assert musicality["majority_agreement"]["n"] == 4
    for figures in (overall, musicality):
        for name in ("pairwise_agreement", "fleiss_kappa", "krippendorff_alpha", "majority_agreement"):
            estimate = figures[name]
            assert estimate["low"] <= estimate["value"] <= estimate["high"], (figures["axis"], name, estimate)


def test_percent_agreement_on_two_vote_pairs_equals_sklearns_accuracy_of_one_rater_against_the_other() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    made = small_campaign(systems=3, prompts=2, overlap=2, slug="duo", name="Duo")
    first, second = member_join(made.campaign), member_join(made.campaign)
    labels_first = ["a", "b", "tie", "a", "both_bad", "b"]
    labels_second = ["a", "a", "tie", "b", "both_bad", "b"]
    for index, pair in enumerate(made.regular_pairs()):
        vote_write(pair=pair, member=first, choice=labels_first[index], swapped=index % 2 == 0, seconds=5,
                   decision_ms=1000)
        vote_write(pair=pair, member=second, choice=labels_second[index], swapped=index % 3 == 0, seconds=5,
                   decision_ms=1000)
    figures = _figures(campaign_dashboard(campaign=made.campaign), "overall")
    assert figures["pairwise_agreement"]["value"] == pytest.approx(
        sklearn_metrics.accuracy_score(labels_first, labels_second)
    )
    assert figures["majority_agreement"]["value"] is None  # no pair has three votes
    assert figures["majority_agreement"]["reason"] == "no item has 3 or more votes"


def test_votes_are_counted_in_the_pairs_own_order_whichever_side_they_were_shown_on() -> None:
    written = fixed_campaign()
    counts = agreement_counts(campaign=written.made.campaign, axis=Axis.OVERALL)
    expected = [[labels.count(outcome) for outcome in OUTCOMES] for labels in OVERALL]
    assert counts.tolist() == expected


def test_a_rater_left_out_of_the_boards_is_left_out_of_the_agreement_too_cached_figures_included() -> None:
    written = fixed_campaign()
    before = _figures(campaign_dashboard(campaign=written.made.campaign), "overall")  # cached from here on
    assert before["n_votes"] == 18
    CampaignRater.objects.filter(pk=written.members[3].pk).update(excluded=True)
    figures = _figures(campaign_dashboard(campaign=written.made.campaign), "overall")
    kept = [labels[:3] for labels in OVERALL]
    assert figures["n_votes"] == sum(1 for labels in kept for label in labels if label)
    assert figures["pairwise_agreement"]["value"] == pytest.approx(direct_percent_agreement(kept))


def test_progress_times_and_the_rater_table() -> None:
    written = fixed_campaign()
    campaign = written.made.campaign
    first, second = written.members[0], written.members[1]
    # One pair short of its k votes: undo the last vote's count on the fifth pair.
    CampaignPair.objects.filter(pk=written.pairs[4].pk).update(votes_done=2)
    CampaignRater.objects.filter(pk=first.pk).update(
        gold_answered=4, gold_correct=3, skips=2, flags=["failed_gold"], excluded=True, override="exclude",
        crowd_id="PROLIFIC-123",
    )
    dashboard = campaign_dashboard(campaign=campaign)
    progress = dashboard["progress"]
    assert progress["pairs_total"] == 6 and progress["pairs_complete"] == 5
    assert progress["votes_done"] == 17 and progress["votes_wanted"] == 18
    assert progress["raters"] == 4 and progress["raters_excluded"] == 1 and progress["skips"] == 2
    times = dashboard["times"]
    assert times["votes"] == 18
    assert times["median_seconds"] == pytest.approx(21, abs=0.5)  # median of 4, 6, ..., 38 is 21
    assert times["median_decision_seconds"] == pytest.approx(3.5)  # three votes each at 1 s .. 6 s
    rows = {row["member_id"]: row for row in dashboard["raters"]}
    assert rows[first.pk]["label"] == "PROLIFIC-123" and rows[first.pk]["votes"] == 5
    assert rows[first.pk]["gold_accuracy"] == pytest.approx(0.75) and rows[first.pk]["flags"] == ["failed_gold"]
    assert rows[first.pk]["excluded"] and rows[first.pk]["override"] == "exclude"
    assert rows[second.pk]["label"] == str(second.rater.public_id)[:8] and rows[second.pk]["gold_accuracy"] is None
    assert all(row["reliability"] is None for row in dashboard["raters"])
    assert dashboard["reliability_computed_at"] is None


def test_reliability_comes_from_the_campaigns_crowd_bt_snapshot_read_defensively() -> None:
    written = fixed_campaign()
    campaign = written.made.campaign
    first, second, third = written.members[:3]
    LeaderboardSnapshot.objects.create(
        scope=campaign.scope, method="crowd_bt", digest="x",
        extra={"raters": {str(first.rater_id): {"eta": 0.93, "votes": 5}, str(second.rater_id): {"votes": 4},
                          str(third.rater_id): "odd"}},
    )
    rows = {row["member_id"]: row for row in campaign_dashboard(campaign=campaign)["raters"]}
    assert rows[first.pk]["reliability"] == pytest.approx(0.93)
    assert rows[second.pk]["reliability"] is None and rows[third.pk]["reliability"] is None
    # The Crowd-BT snapshot is not a board: the overall board still waits for its first plain snapshot.
    overall = campaign_dashboard(campaign=campaign)["boards"][0]
    assert overall["snapshot_id"] is None and overall["rows"] == []


def test_boards_per_axis_come_from_the_scoring_engine(settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 200
    written = fixed_campaign()
    campaign = written.made.campaign
    snapshots = {name: snapshot_refresh(scope=scope_parse(name)) for name in (campaign.scope,
                                                                              f"{campaign.scope}:musicality")}
    boards = campaign_dashboard(campaign=campaign)["boards"]
    assert [(board["axis"], board["scope"]) for board in boards] == [
        ("overall", "campaign:pilot"), ("musicality", "campaign:pilot:musicality"),
    ]
    for board in boards:
        snapshot = snapshots[board["scope"]]
        assert snapshot is not None and board["snapshot_id"] == snapshot.pk
        assert board["vote_count"] == snapshot.vote_count
        assert [(row["system_id"], row["rating"], row["ci_low"], row["ci_high"]) for row in board["rows"]] == [
            (row["system_id"], row["rating"], row["ci_low"], row["ci_high"]) for row in snapshot.rows
        ]
        # The votes still needed to separate each system from the next, as the engine stored them.
        assert [(row["votes_to_separate"], row["separation"]) for row in board["rows"]] == [
            (row["votes_to_separate"], row["separation"]) for row in snapshot.rows]
        assert {row["separation"] for row in board["rows"]} <= {"separated", "projected", "beyond_budget", None}
    assert boards[0]["vote_count"] == 18 and boards[1]["vote_count"] == 14 + 1  # the single answer counts on a board

    overall = snapshots[campaign.scope]
    assert overall is not None
    overall.rows[0]["votes_to_separate"] = 42
    overall.save(update_fields=["rows"])
    assert campaign_dashboard(campaign=campaign)["boards"][0]["rows"][0]["votes_to_separate"] == 42


# ---------------------------------------------------------------------------------------------------------------
# The API and the page: staff only


def _client(*, staff: bool) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("staff" if staff else "member", is_staff=staff))
    return client


def test_the_api_answers_staff_with_its_documented_schema(staff_client: Client, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 200
    written = fixed_campaign()
    snapshot_refresh(scope=scope_parse(written.made.campaign.scope))
    response = staff_client.get("/api/campaigns/pilot/dashboard/")
    assert response.status_code == 200
    body = assert_matches_schema(response, closed=True)
    assert body["progress"]["pairs_complete"] == 6
    assert body["campaign"]["scopes"] == ["campaign:pilot", "campaign:pilot:musicality"]
    assert len(body["boards"][0]["rows"]) == 3 and body["boards"][1]["rows"] == []


def test_the_api_refuses_anyone_but_staff_and_names_an_unknown_campaign(staff_client: Client) -> None:
    small_campaign()
    for client in (Client(), _client(staff=False)):
        response = client.get("/api/campaigns/pilot/dashboard/")
        assert response.status_code == 403
        assert_matches_schema(response)
    missing = staff_client.get("/api/campaigns/nowhere/dashboard/")
    assert missing.status_code == 404
    assert assert_matches_schema(missing)["code"] == "campaign_not_found"


def test_the_page_is_for_staff_others_are_sent_to_the_admin_login(staff_client: Client) -> None:
    small_campaign()
    for client in (Client(), _client(staff=False)):
        response = client.get("/c/pilot/dashboard/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/c/pilot/dashboard/")
    page = staff_client.get("/c/pilot/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="dashboard-data"' in html and "annotation/dashboard.js" in html
    assert staff_client.get("/c/nowhere/dashboard/").status_code == 404


def test_an_empty_campaign_has_a_dashboard_with_nothing_undefined_pretending_to_be_a_figure() -> None:
    campaign = Campaign.objects.create(name="Empty", slug="empty", axes=["overall", "lyrics_alignment"])
    dashboard = campaign_dashboard(campaign=campaign)
    assert dashboard["progress"]["pairs_total"] == 0 and dashboard["progress"]["votes_wanted"] == 0
    assert dashboard["times"] == {"votes": 0, "median_seconds": None, "median_decision_seconds": None}
    assert [entry["axis"] for entry in dashboard["agreement"]] == ["overall", "lyrics_alignment"]
    assert all(entry["krippendorff_alpha"]["value"] is None for entry in dashboard["agreement"])


def test_the_campaigns_admin_page_links_to_its_dashboard(admin_client: Client) -> None:
    campaign = small_campaign().campaign
    response = admin_client.get(f"/admin/annotation/campaign/{campaign.pk}/change/")
    assert response.status_code == 200
    assert 'href="/c/pilot/dashboard/"' in response.content.decode()
