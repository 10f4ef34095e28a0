"""Handing out a campaign's items: one lease at a time, never a pair twice, never more than k votes, leases that
expire, skips with a reason, and campaign votes counted on the campaign's boards only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import assignment_next, assignment_skip, leases_expire
from annotation.errors import CampaignClosed, ConsentRequired, LeaseLost, PairComplete
from annotation.models import Assignment, Campaign, CampaignPair
from arena.models import Battle, Vote
from scoring.scopes import scope_parse, vote_scopes
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.arena.arena_support import arena_isolated  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_rater_holds_one_lease_and_gets_it_again_until_they_vote() -> None:
    made = small_campaign()
    member = member_join(made.campaign)
    first = assignment_next(member=member).assignment
    assert first is not None and first.status == Assignment.Status.LEASED
    assert assignment_next(member=member).assignment == first
    battle = first.battle
    assert battle.mode == Battle.Mode.CAMPAIGN and battle.min_listen_ms == 1000 and not battle.reveal_systems
    assert {battle.clip_a_id, battle.clip_b_id} == {first.pair.clip_a_id, first.pair.clip_b_id}
    item_vote(first)
    second = assignment_next(member=member).assignment
    assert second is not None and second.pair_id != first.pair_id
    assert CampaignPair.objects.get(pk=first.pair_id).votes_done == 1


def test_a_rater_works_through_every_pair_once_then_is_done() -> None:
    made = small_campaign(systems=3, prompts=1, overlap=2)
    member = member_join(made.campaign)
    seen = []
    while (item := assignment_next(member=member)).assignment is not None:
        seen.append(item.assignment.pair_id)
        item_vote(item.assignment, "b")
    assert sorted(seen) == sorted(pair.pk for pair in made.regular_pairs())
    assert item.done
    member.refresh_from_db()
    assert member.completed_at is not None and member.votes == 3 and member.side_b == 3


def test_a_pair_is_handed_out_only_while_votes_and_live_leases_stay_under_k() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=2)
    raters = [member_join(made.campaign) for _ in range(3)]
    first, second = (assignment_next(member=rater).assignment for rater in raters[:2])
    assert first is not None and second is not None and first.pair_id == second.pair_id
    third = assignment_next(member=raters[2])
    assert third.assignment is None and third.done


def test_a_lease_past_its_time_returns_the_pair_to_the_pool() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1, lease_minutes=5)
    holder, other = member_join(made.campaign), member_join(made.campaign)
    lease = assignment_next(member=holder).assignment
    assert lease is not None
    assert assignment_next(member=other).assignment is None
    later = timezone.now() + timedelta(minutes=5, seconds=1)
    again = assignment_next(member=other, now=later).assignment
    assert again is not None and again.pair_id == lease.pair_id
    assert leases_expire(now=later) == 1
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED
    # The holder never gets that pair again, and their late vote is refused by the arena (the battle expired).
    assert assignment_next(member=holder, now=later).assignment is None


def test_a_skip_keeps_its_reason_and_frees_the_pair_for_others() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1)
    skipper, other = member_join(made.campaign), member_join(made.campaign)
    lease = assignment_next(member=skipper).assignment
    assert lease is not None
    assignment_skip(member=skipper, battle_public_id=str(lease.battle.public_id), reason="  clip B is silent ")
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SKIPPED and lease.skip_reason == "clip B is silent"
    assert Battle.objects.get(pk=lease.battle_id).status == Battle.Status.ABANDONED
    assert assignment_next(member=other).assignment is not None
    with pytest.raises(LeaseLost):
        assignment_skip(member=skipper, battle_public_id=str(lease.battle.public_id), reason="again")


def test_the_database_refuses_a_vote_beyond_k_even_if_a_lease_slipped_through() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1)
    first, second = member_join(made.campaign), member_join(made.campaign)
    lease = assignment_next(member=first).assignment
    assert lease is not None
    late = timezone.now() + timedelta(minutes=30)
    # The first lease's time has run out for the server handing out, but not yet for its battle: both hold one.
    slipped = assignment_next(member=second, now=late).assignment
    assert slipped is not None and slipped.pair_id == lease.pair_id
    item_vote(lease)
    with pytest.raises(PairComplete):
        item_vote(slipped)
    assert CampaignPair.objects.get(pk=lease.pair_id).votes_done == 1
    assert Vote.objects.filter(battle__campaign_assignment__pair_id=lease.pair_id).count() == 1


def test_closed_campaigns_and_missing_consent_are_refused() -> None:
    made = small_campaign(consent="I agree to take part.")
    member = member_join(made.campaign)
    member.consented_at = None
    member.save()
    with pytest.raises(ConsentRequired):
        assignment_next(member=member)
    Campaign.objects.filter(pk=made.campaign.pk).update(status=Campaign.Status.CLOSED)
    with pytest.raises(CampaignClosed):
        assignment_next(member=member)


def test_campaign_votes_count_on_the_campaign_scopes_not_the_arena() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1)
    lease = assignment_next(member=member_join(made.campaign)).assignment
    assert lease is not None
    vote = item_vote(lease, musicality="a")
    assert vote_scopes(vote) == ["campaign:pilot", "campaign:pilot:musicality", "campaign:pilot:instrumental"]
    assert Vote.objects.filter(scope_parse("campaign:pilot").votes_filter).count() == 1
    assert Vote.objects.filter(scope_parse("arena").votes_filter).count() == 0
    assert scope_parse("campaign:pilot:musicality").reliability_weighted
