"""30 raters working one campaign at once (k = 3, gold mixed in), each in a thread of its own with its own
PostgreSQL connection, through the real lease and vote path: no pair ever gets more than k votes, no rater gets a
pair twice, every regular pair finishes with exactly k votes, and no lease is left."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from django.db.models import Count

from annotation.assignment import assignment_next
from annotation.models import Assignment, CampaignPair, CampaignRater
from arena.models import Vote
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.annotation.quality_support import FixedDraw, gold_answer, gold_pairs_add
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.threads import database_pool_holding, needs_row_locks, run_threads

pytestmark = [pytest.mark.django_db(transaction=True), needs_row_locks]
RATERS = 30
K = 3


@pytest.fixture(autouse=True)
def _a_connection_per_thread() -> Iterator[None]:
    with database_pool_holding(RATERS + 1):
        yield


def test_thirty_raters_at_once_never_push_a_pair_past_k_and_finish_every_pair() -> None:
    made = small_campaign(systems=4, prompts=3, overlap=K, gold_rate=0.2)  # 18 regular pairs, 54 votes wanted
    gold = gold_pairs_add(made, 3)
    members = [member_join(made.campaign) for _ in range(RATERS)]
    # Every rater asks for its first item at the same moment; the rest of the run overlaps as the threads go.
    start = threading.Barrier(RATERS, timeout=60)

    def rater(index: int) -> list[tuple[int, str]]:
        member = members[index]
        # A third of the raters draw gold whenever the rules allow it, so gold is surely mixed in; the others draw
        # at the campaign's gold rate.
        rng = FixedDraw(0.0) if index % 3 == 0 else None
        worked: list[tuple[int, str]] = []
        start.wait()
        while (item := assignment_next(member=member, rng=rng)).assignment is not None:
            lease = item.assignment
            if lease.kind == CampaignPair.Kind.GOLD:
                gold_answer(lease, right=True)
            else:
                item_vote(lease, "ab"[(index + len(worked)) % 2])
            worked.append((lease.pair_id, lease.kind))
        assert item.done
        return worked

    worked = run_threads(rater, RATERS)

    regular = {pair.pk for pair in made.regular_pairs()}
    assert len(regular) == 18
    # No rater had a pair twice; between them they did every regular pair k times.
    for items in worked:
        assert len({pair for pair, _ in items}) == len(items)
    regular_done = Counter(pair for items in worked for pair, kind in items if kind == CampaignPair.Kind.REGULAR)
    assert regular_done == dict.fromkeys(regular, K)
    # The Vote rows themselves, not only the counters: exactly k per regular pair, each from a different rater.
    per_pair = (
        Vote.objects.filter(battle__campaign_assignment__pair__kind=CampaignPair.Kind.REGULAR)
        .values("battle__campaign_assignment__pair")
        .annotate(votes=Count("id"), raters=Count("rater", distinct=True))
    )
    assert {row["battle__campaign_assignment__pair"]: (row["votes"], row["raters"]) for row in per_pair} == (
        dict.fromkeys(regular, (K, K))
    )
    assert set(CampaignPair.objects.filter(pk__in=regular).values_list("votes_done", flat=True)) == {K}
    assert not Assignment.objects.filter(status=Assignment.Status.LEASED).exists()
    assert Assignment.objects.filter(status=Assignment.Status.DONE).count() == sum(len(items) for items in worked)
    # Gold was mixed in and counted on the raters, never on the pairs; nobody was flagged for right answers.
    gold_votes = Vote.objects.filter(battle__campaign_assignment__pair__in=gold).count()
    answered = sum(CampaignRater.objects.values_list("gold_answered", flat=True))
    assert gold_votes == answered == sum(kind == CampaignPair.Kind.GOLD for items in worked for _, kind in items)
    assert answered >= len(gold) * RATERS // 3
    assert set(CampaignRater.objects.values_list("excluded", flat=True)) == {False}
    assert sum(CampaignRater.objects.values_list("votes", flat=True)) == len(regular) * K
    assert all(member.completed_at is not None for member in CampaignRater.objects.all())
