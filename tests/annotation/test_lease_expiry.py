"""Leases that run out: beat's sweep task marks them expired, frees their raters' one-lease slot, and their pairs go
to other raters; the late vote of the first holder is refused and never counted."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.assignment import assignment_next
from annotation.models import Assignment, CampaignPair
from annotation.tasks import leases_expire_task
from arena.models import Vote
from core.errors import EarshotError
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.django_db


def test_beat_runs_the_sweep_on_its_setting() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["campaign-leases-expire"]
    assert entry == {"task": leases_expire_task.name, "schedule": settings.EARSHOT_LEASE_SWEEP_SECONDS}


def test_the_sweep_task_expires_leases_past_their_time_and_their_pairs_go_to_other_raters() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=2, lease_minutes=5)
    early, late, third = (member_join(made.campaign) for _ in range(3))
    then = timezone.now() - timedelta(minutes=5, seconds=1)
    stale = assignment_next(member=early, now=then).assignment
    live = assignment_next(member=late).assignment
    assert stale is not None and live is not None and stale.pair_id == live.pair_id

    assert leases_expire_task.apply().get() == 1  # the beat task, run through Celery's own call path
    stale.refresh_from_db()
    live.refresh_from_db()
    assert stale.status == Assignment.Status.EXPIRED and stale.finished_at is not None
    assert live.status == Assignment.Status.LEASED
    assert leases_expire_task.apply().get() == 0  # nothing more to sweep

    # The expired lease's place goes to the third rater; the first holder never gets the pair again.
    taken = assignment_next(member=third).assignment
    assert taken is not None and taken.pair_id == stale.pair_id
    assert assignment_next(member=early).assignment is None
    with pytest.raises(EarshotError):
        item_vote(stale)
    item_vote(live, "a")
    item_vote(taken, "b")
    pair = CampaignPair.objects.get(pk=stale.pair_id)
    assert pair.votes_done == 2
    assert Vote.objects.filter(battle__campaign_assignment__pair=pair).count() == 2


def test_a_rater_whose_lease_ran_out_gets_a_new_item_without_waiting_for_the_sweep() -> None:
    made = small_campaign(systems=3, prompts=1, overlap=1, lease_minutes=5)
    member = member_join(made.campaign)
    then = timezone.now() - timedelta(minutes=6)
    first = assignment_next(member=member, now=then).assignment
    assert first is not None
    second = assignment_next(member=member).assignment
    assert second is not None and second.pair_id != first.pair_id
    first.refresh_from_db()
    assert first.status == Assignment.Status.EXPIRED
    assert leases_expire_task.apply().get() == 0
