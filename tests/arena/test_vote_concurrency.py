"""Concurrent votes on PostgreSQL: real threads, each with its own connection, sending every vote twice at once.

First the race without the guard: a check-then-insert with no row lock lets both requests through the check, and
only the one-vote-per-battle constraint stops the second insert. Then vote_record: the battle row lock settles
every race before the insert, so each battle ends with exactly one vote and every answer is the idempotent one.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, F

from arena.models import Battle, Choice, Vote
from arena.services import vote_record
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.factories import BattleFactory, ClipFactory, PromptFactory, RaterFactory
from tests.threads import database_pool_holding, needs_row_locks, run_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_row_locks,
]
THREADS = 20
BATTLES_PER_THREAD = 50
CHOICES = [Choice.A, Choice.B, Choice.TIE, Choice.BOTH_BAD]


@pytest.fixture(autouse=True)
def _a_connection_per_thread() -> Iterator[None]:
    """Each thread keeps its own connection until it ends, as the test's own thread does."""
    with database_pool_holding(THREADS + 1):
        yield


def battles_ready(count: int) -> list[Battle]:
    """Open battles of one rater, listened to (both clips fetched, telemetry reported) and old enough for a vote."""
    prompt = PromptFactory()
    clip_a, clip_b = ClipFactory(prompt=prompt, duration_s=1.0), ClipFactory(prompt=prompt, duration_s=1.0)
    rater = RaterFactory()
    battles = [
        BattleFactory(rater=rater, prompt=prompt, clip_a=clip_a, clip_b=clip_b, ms_played_a=1000, ms_played_b=1000,
                      audio_fetched_ms={"a": [[0, 1000]], "b": [[0, 1000]]})
        for _ in range(count)
    ]
    Battle.objects.update(created_at=F("created_at") - timedelta(seconds=30))
    return battles


def run_pairs(battles: list[Battle], send: Callable[[Battle, int], object]) -> list[object]:
    """THREADS threads; thread t owns battles [t*B, (t+1)*B) and re-sends the votes of thread t+1's battles.

    The two sends of a battle meet at a barrier of their own, so they really run at the same moment. Even threads
    send their own vote first and odd threads the re-send first, so every pair of senders meets in turn. What every
    send returned comes back; the first error any send raised fails the test.
    """
    meet = [threading.Barrier(2, timeout=60) for _ in battles]

    def worker(thread: int) -> list[object]:
        own = range(thread * BATTLES_PER_THREAD, (thread + 1) * BATTLES_PER_THREAD)
        neighbour = (thread + 1) % THREADS
        resend = range(neighbour * BATTLES_PER_THREAD, (neighbour + 1) * BATTLES_PER_THREAD)
        outcomes = []
        for mine, theirs in zip(own, resend, strict=True):
            for index in ((mine, theirs) if thread % 2 == 0 else (theirs, mine)):
                meet[index].wait()
                outcomes.append(send(battles[index], index))
        return outcomes

    return [outcome for outcomes in run_threads(worker, THREADS) for outcome in outcomes]


def test_without_the_row_lock_both_sends_pass_the_check_and_only_the_constraint_stops_the_second() -> None:
    battles = battles_ready(THREADS * BATTLES_PER_THREAD)
    # The two sends of a battle meet again after the check, before either inserts: the interleaving the race
    # allows, made certain rather than left to how this machine schedules threads.
    checked = [threading.Barrier(2, timeout=60) for _ in battles]

    def naive_vote(battle: Battle, index: int) -> str:
        with transaction.atomic():
            seen = Vote.objects.filter(battle=battle).exists()
            checked[index].wait()
            if seen:
                return "saw the vote"
            try:
                with transaction.atomic():
                    Vote.objects.create(
                        battle=battle, rater_id=battle.rater_id, system_a_id=battle.clip_a.system_id,
                        system_b_id=battle.clip_b.system_id, prompt_id=battle.prompt_id, choice=CHOICES[index % 4],
                    )
            except IntegrityError:
                return "stopped by the constraint"
            return "inserted"

    outcomes = Counter(run_pairs(battles, naive_vote))
    print(f'naive check-then-insert: {dict(outcomes)}')
    assert outcomes["inserted"] == len(battles)
    # The race is real: every second send got past the check, and only the unique constraint refused it.
    assert outcomes["stopped by the constraint"] == len(battles), outcomes
    assert Vote.objects.count() == len(battles)


def test_vote_record_leaves_exactly_one_vote_per_battle_when_every_vote_is_sent_twice_at_once() -> None:
    battles = battles_ready(THREADS * BATTLES_PER_THREAD)
    rater = battles[0].rater

    def send(battle: Battle, index: int) -> tuple[int, bool]:
        vote, created = vote_record(battle_public_id=battle.public_id, rater=rater, choice=CHOICES[index % 4])
        assert vote.choice == CHOICES[index % 4]
        return battle.pk, created

    results = run_pairs(battles, send)
    assert len(results) == 2 * len(battles)
    created_per_battle = Counter(pk for pk, created in results if created)
    assert sorted(created_per_battle.values()) == [1] * len(battles)
    assert Vote.objects.count() == len(battles)
    per_battle = Vote.objects.values("battle").annotate(n=Count("id")).filter(n__gt=1)
    assert list(per_battle) == []
    assert set(Vote.objects.values_list("battle_id", flat=True)) == {battle.pk for battle in battles}
    assert set(Battle.objects.values_list("status", flat=True)) == {Battle.Status.VOTED}
    for battle in battles[:: len(battles) // 10]:
        assert Vote.objects.get(battle=battle).choice == CHOICES[battles.index(battle) % 4]
