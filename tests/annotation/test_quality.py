"""Quality control of campaign raters: flags recomputed after each counted vote, the gold rule that leaves a rater
out of the campaign's boards, an admin's override that wins over it, and every change recorded with its reason."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User

from annotation.errors import OverrideInvalid
from annotation.models import Campaign, CampaignPair, CampaignRater, QualityDecision
from annotation.quality import Action, Flag, campaign_scope_names, flag_checks, member_override
from scoring.models import LeaderboardSnapshot
from scoring.services import leaderboard_recompute_run
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.annotation.quality_support import GOLD, NO_GOLD, gold_answer, gold_pairs_add, next_item
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture

if TYPE_CHECKING:
    from tests.realstack import Published

pytest_plugins = ["tests.realstack"]

pytestmark = pytest.mark.django_db
REGULAR, GOLD_KIND = CampaignPair.Kind.REGULAR, CampaignPair.Kind.GOLD


def board_vote_count(scope: str) -> int:
    """Recompute the scope now, as its task would, and read how many votes its board counts."""
    leaderboard_recompute_run(scope=scope)
    snapshot = LeaderboardSnapshot.objects.filter(scope=scope, method="bradley_terry").first()
    assert snapshot is not None
    return snapshot.vote_count


def decisions(member: CampaignRater) -> list[tuple[str, str]]:
    return [(d.action, d.reason) for d in QualityDecision.objects.filter(member=member).order_by("id")]


def test_a_rater_who_fails_gold_is_flagged_then_left_out_of_the_board_until_an_admin_counts_them(
    admin_user: User,
) -> None:
    made = small_campaign(systems=3, prompts=1, gold_rate=0.5, gold_threshold=0.7, gold_min_answers=3)
    gold_pairs_add(made, 4)
    good, bad = member_join(made.campaign), member_join(made.campaign)
    for member, choice in ((good, "a"), (good, "a"), (bad, "b"), (bad, "b")):
        item_vote(next_item(member, kind=REGULAR, rng=NO_GOLD), choice)
    assert board_vote_count("campaign:pilot") == 4

    gold_answer(next_item(bad, kind=GOLD_KIND, rng=GOLD), right=False)
    bad.refresh_from_db()
    assert bad.flags == [Flag.FAILED_GOLD] and not bad.excluded  # one answer: too few for the threshold
    assert decisions(bad) == [("flagged", "Failed a gold item: 1 of 1 gold answers wrong")]
    assert board_vote_count("campaign:pilot") == 4

    gold_answer(next_item(bad, kind=GOLD_KIND, rng=GOLD), right=True)
    gold_answer(next_item(bad, kind=GOLD_KIND, rng=GOLD), right=False)
    bad.refresh_from_db()
    assert bad.flags == [Flag.FAILED_GOLD, Flag.BELOW_GOLD_THRESHOLD] and bad.excluded
    assert decisions(bad)[1:] == [
        ("flagged", "Gold accuracy below the threshold: gold accuracy 1/3 = 33% < 70% after 3 gold answers"),
        ("excluded", "left out of the campaign's boards and exports: "
                     "gold accuracy 1/3 = 33% < 70% after 3 gold answers"),
    ]
    assert board_vote_count("campaign:pilot") == 2  # the good rater's votes only
    assert board_vote_count("campaign:pilot:instrumental") == 2

    decision = member_override(member=bad, override="include", by=admin_user, reason="knows the genre")
    bad.refresh_from_db()
    assert not bad.excluded and bad.override == "include" and bad.flags == [Flag.FAILED_GOLD,
                                                                            Flag.BELOW_GOLD_THRESHOLD]
    assert decision.decided_by == admin_user and decision.action == Action.OVERRIDE_INCLUDE
    assert decision.reason == ("Admin: always counted (knows the genre); now counted again on the campaign's boards "
                               "and exports (flags: failed_gold, below_gold_threshold)")
    assert board_vote_count("campaign:pilot") == 4

    # The override wins over later answers too: a fourth gold answer changes no flag and no standing.
    gold_answer(next_item(bad, kind=GOLD_KIND, rng=GOLD), right=True)
    bad.refresh_from_db()
    assert not bad.excluded and len(decisions(bad)) == 4

    member_override(member=bad, override="", by=admin_user, reason="")
    bad.refresh_from_db()
    assert bad.excluded and bad.override == ""
    assert decisions(bad)[-1] == (
        "override_automatic", "Admin: automatic (no reason given); now left out of the campaign's boards and exports "
        "(flags: failed_gold, below_gold_threshold)",
    )
    assert board_vote_count("campaign:pilot") == 2
    good.refresh_from_db()
    assert good.flags == [] and not good.excluded and not QualityDecision.objects.filter(member=good).exists()


def test_a_rater_back_above_the_threshold_is_counted_again_with_the_reason() -> None:
    made = small_campaign(systems=3, prompts=1, gold_rate=0.5, gold_threshold=0.5, gold_min_answers=2)
    gold_pairs_add(made, 4)
    member = member_join(made.campaign)
    for right in (False, False, True):
        gold_answer(next_item(member, kind=GOLD_KIND, rng=GOLD), right=right)
    member.refresh_from_db()
    assert member.excluded
    gold_answer(next_item(member, kind=GOLD_KIND, rng=GOLD), right=True)
    member.refresh_from_db()
    assert not member.excluded and member.flags == [Flag.FAILED_GOLD]
    assert decisions(member)[-2:] == [
        ("unflagged", "Gold accuracy below the threshold: gold accuracy 2/4 = 50% ≥ 50% after 4 gold answers"),
        ("included", "counted again on the campaign's boards and exports: "
                     "gold accuracy 2/4 = 50% ≥ 50% after 4 gold answers"),
    ]


def test_fast_decisions_raise_the_fast_flag_after_ten_votes_and_leave_the_rater_counted() -> None:
    made = small_campaign(systems=5, prompts=1, overlap=1)  # 10 pairs
    # Every test vote comes about 1 s after the listening allowed it (see item_vote): "fast" under 60 s.
    Campaign.objects.filter(pk=made.campaign.pk).update(fast_decision_seconds=60.0)
    member = member_join(made.campaign)
    for index in range(9):
        item_vote(next_item(member, kind=REGULAR, rng=NO_GOLD), "ab"[index % 2])
    member.refresh_from_db()
    assert member.fast_decisions == 9 and member.flags == []
    item_vote(next_item(member, kind=REGULAR, rng=NO_GOLD), "b")
    member.refresh_from_db()
    assert member.flags == [Flag.FAST] and not member.excluded
    assert decisions(member) == [(
        "flagged",
        "Decides too fast: 10/10 = 100% of regular decisions under 60 s after the listening (≥ 50% after 10 votes)",
    )]


def test_always_the_same_side_raises_the_same_side_flag_after_ten_votes() -> None:
    made = small_campaign(systems=5, prompts=1, overlap=1)
    member = member_join(made.campaign)
    for _ in range(9):
        item_vote(next_item(member, kind=REGULAR, rng=NO_GOLD), "a")
    member.refresh_from_db()
    assert member.flags == [] and member.fast_decisions == 0
    item_vote(next_item(member, kind=REGULAR, rng=NO_GOLD), "a")
    member.refresh_from_db()
    assert member.flags == [Flag.SAME_SIDE] and not member.excluded
    assert decisions(member) == [
        ("flagged", "Always the same side: 10/10 = 100% of regular decisions for side A (≥ 95% after 10 votes)"),
    ]


def test_a_careful_rater_who_uses_both_sides_gets_no_flag() -> None:
    made = small_campaign(systems=5, prompts=1, overlap=1)
    member = member_join(made.campaign)
    for index in range(10):
        item_vote(next_item(member, kind=REGULAR, rng=NO_GOLD), "a" if index % 3 else "b")
    member.refresh_from_db()
    assert member.votes == 10 and member.flags == [] and not decisions(member)


@pytest.mark.parametrize(("counters", "raised"), [
    ({"votes": 20, "side_a": 19, "side_b": 1}, {Flag.SAME_SIDE}),
    ({"votes": 20, "side_a": 18, "side_b": 2}, set()),
    ({"votes": 20, "side_a": 0, "side_b": 20}, {Flag.SAME_SIDE}),
    ({"votes": 9, "side_a": 9}, set()),
    ({"votes": 10, "side_a": 5, "side_b": 5, "fast_decisions": 5}, {Flag.FAST}),
    ({"votes": 10, "side_a": 5, "side_b": 5, "fast_decisions": 4}, set()),
    ({"gold_answered": 2, "gold_correct": 0}, {Flag.FAILED_GOLD}),  # under gold_min_answers
    ({"gold_answered": 3, "gold_correct": 2}, {Flag.FAILED_GOLD, Flag.BELOW_GOLD_THRESHOLD}),  # 67% < 70%
    ({"gold_answered": 10, "gold_correct": 7}, {Flag.FAILED_GOLD}),  # 70%: not below
    ({"gold_answered": 3, "gold_correct": 3}, set()),
])
def test_the_flag_thresholds(counters: dict[str, int], raised: set[Flag]) -> None:
    campaign = Campaign(gold_threshold=0.7, gold_min_answers=3, fast_decision_seconds=2.0)
    checks = flag_checks(CampaignRater(campaign=campaign, **counters), campaign)
    assert {check.flag for check in checks if check.raised} == raised


def test_an_override_that_changes_the_standing_queues_every_board_of_the_campaign_once(
    admin_user: User, django_capture_on_commit_callbacks: Callable[..., Any], celery_app_on_queue: Any,
    published_tasks: list[Published],
) -> None:
    made = small_campaign()
    member = member_join(made.campaign)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        member_override(member=member, override="exclude", by=admin_user, reason="bot-like answers")
    assert len(callbacks) == 1
    assert sorted(p.args[0] for p in published_tasks) == sorted(campaign_scope_names(made.campaign))
    assert "campaign:pilot:lyrics_alignment" in campaign_scope_names(made.campaign)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decision = member_override(member=member, override="exclude", by=admin_user)
    assert callbacks == []  # no change of standing: no board to recompute
    assert decision.reason.startswith("Admin: always left out (no reason given); still left out of")
    member.refresh_from_db()
    assert member.excluded and member.override == "exclude"


def test_an_unknown_override_is_refused_and_changes_nothing(admin_user: User) -> None:
    member = member_join(small_campaign().campaign)
    with pytest.raises(OverrideInvalid) as caught:
        member_override(member=member, override="maybe", by=admin_user)
    assert caught.value.code == "override_invalid" and "'maybe'" in caught.value.message
    member.refresh_from_db()
    assert member.override == "" and not QualityDecision.objects.exists()
