"""Recomputes on the real stack: a real Celery worker on Redis, the single-flight claim under a race, debounce,
recovery after Redis loses its messages, and pushes that add up to a fresh recompute."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.utils import timezone

from arena.models import Choice, System, Vote
from config.asgi import application
from scoring.models import LeaderboardSnapshot, ScopeRecompute
from scoring.scopes import scope_parse, vote_scopes
from scoring.selectors import snapshot_current
from scoring.services import (
    RecomputeOutcome,
    leaderboard_recompute_run,
    leaderboards_request_recompute,
    scope_recompute_claim,
    scope_recompute_release,
    snapshot_compute,
    snapshot_refresh,
    snapshot_store,
)
from scoring.tasks import leaderboard_recompute, leaderboards_recompute_all
from tests.factories import SystemFactory
from tests.threads import run_threads

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.usefixtures("real_stack"), pytest.mark.realstack, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quick(lenient: Any) -> Any:
    lenient.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = 0.3
    return lenient


def _systems() -> list[System]:
    return [SystemFactory(name=f"Sys {n}", slug=f"sys-{n}") for n in "abc"]


def _vote_like_the_arena(writer: VoteWriter, pair: tuple[System, System, str], **axes: str) -> Vote:
    """What vote_record does: insert the vote and request its scopes' recompute in one transaction."""
    with transaction.atomic():
        vote = writer.cast([pair], **axes)[0]
        leaderboards_request_recompute(scopes=vote_scopes(vote))
    return vote


def _snapshot_counts(scope: str) -> int:
    snapshot = snapshot_current(scope=scope)
    return -1 if snapshot is None else snapshot.vote_count


# ---------------------------------------------------------------------------------------------------------------
# The single-flight claim


def test_without_the_claim_an_overlapping_run_leaves_a_stale_leaderboard(vote_writer: VoteWriter, quick: Any) -> None:
    """The race the claim prevents: a slow run that read fewer votes commits last and becomes current."""
    a, b, _ = _systems()
    vote_writer.cast([(a, b, Choice.A)] * 3)
    scope = scope_parse("arena")

    slow = snapshot_compute(scope=scope)  # run 1 reads 3 votes, then is slow to write
    vote_writer.cast([(b, a, Choice.A)])
    snapshot_store(data=snapshot_compute(scope=scope))  # run 2 reads 4 votes and finishes first
    snapshot_store(data=slow)  # run 1 finishes last

    assert Vote.objects.count() == 4
    assert _snapshot_counts("arena") == 3  # the current leaderboard misses a vote, and nothing will fix it


def test_concurrent_claims_let_exactly_one_run(quick: Any) -> None:
    scope = "arena"
    ScopeRecompute.objects.create(scope=scope)
    start = threading.Barrier(6, timeout=60)

    def contender(_: int) -> object:
        start.wait()
        return scope_recompute_claim(scope=scope)

    claims = run_threads(contender, 6)
    won = [claim for claim in claims if claim is not None]
    assert len(claims) == 6 and len(won) == 1
    assert ScopeRecompute.objects.get(scope=scope).running_since == won[0]


def test_with_the_claim_an_overlapping_run_waits_and_the_last_run_counts_every_vote(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any, published_tasks: list
) -> None:
    a, b, _ = _systems()
    vote_writer.cast([(a, b, Choice.A)] * 3)
    claimed_at = scope_recompute_claim(scope="arena")  # run 1 holds the claim
    assert claimed_at is not None
    slow = snapshot_compute(scope=scope_parse("arena"))

    _vote_like_the_arena(vote_writer, (b, a, Choice.A))
    # The vote's own recomputes, overall and instrumental (run 1 cleared the queued mark when it started).
    assert sorted(p.args[0] for p in published_tasks) == ["arena", "arena:bank", "arena:instrumental"]
    published_tasks.clear()
    assert leaderboard_recompute_run(scope="arena") is RecomputeOutcome.BUSY  # run 2 does not run
    assert [(p.task, p.args) for p in published_tasks] == [("scoring.tasks.leaderboard_recompute", ("arena",))]
    assert published_tasks[0].eta is not None  # it is queued again, after the debounce, instead

    snapshot_store(data=slow)
    published_tasks.clear()
    scope_recompute_release(scope="arena", claimed_at=claimed_at)
    # The vote during run 1 is already covered by run 2's retry: nothing more is queued.
    assert published_tasks == []
    assert leaderboard_recompute_run(scope="arena") is RecomputeOutcome.WRITTEN
    assert _snapshot_counts("arena") == Vote.objects.count() == 4


def test_a_mark_left_until_after_the_read_would_lose_a_vote_cast_during_the_run(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any, published_tasks: list
) -> None:
    """The race the mark's order prevents: a vote committed while a run reads, whose request sees the mark still
    set, is counted by no run."""
    a, b, _ = _systems()
    _vote_like_the_arena(vote_writer, (a, b, Choice.A))  # queues the overall recompute and marks it
    published_tasks.clear()
    reading = snapshot_compute(scope=scope_parse("arena"))  # a run that has not cleared the mark yet reads...
    _vote_like_the_arena(vote_writer, (b, a, Choice.A))  # ...a vote commits meanwhile: the mark says "queued"
    snapshot_store(data=reading)
    assert [p.args for p in published_tasks if p.args == ("arena",)] == []
    assert _snapshot_counts("arena") == 1 and Vote.objects.count() == 2  # and nothing is left to count it


def test_a_vote_cast_while_a_run_reads_queues_one_more_run(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any, published_tasks: list, monkeypatch: Any
) -> None:
    from scoring import services

    a, b, _ = _systems()
    _vote_like_the_arena(vote_writer, (a, b, Choice.A))
    published_tasks.clear()
    real_refresh = services.snapshot_refresh

    def refresh_with_a_vote_arriving(**kwargs: Any) -> Any:
        snapshot = real_refresh(**kwargs)  # the run read one vote...
        _vote_like_the_arena(vote_writer, (b, a, Choice.A))  # ...and a second commits before it finishes
        return snapshot

    monkeypatch.setattr(services, "snapshot_refresh", refresh_with_a_vote_arriving)
    assert leaderboard_recompute_run(scope="arena") is RecomputeOutcome.WRITTEN
    assert _snapshot_counts("arena") == 1
    # The run cleared its mark before reading, so the second vote queued a run of its own.
    assert [p.args for p in published_tasks if p.args == ("arena",)] == [("arena",)]
    monkeypatch.setattr(services, "snapshot_refresh", real_refresh)
    assert leaderboard_recompute_run(scope="arena") is RecomputeOutcome.WRITTEN
    assert _snapshot_counts("arena") == Vote.objects.count() == 2


def test_a_claim_left_by_a_dead_worker_goes_stale(quick: Any) -> None:
    ScopeRecompute.objects.create(scope="arena", running_since=timezone.now() - timedelta(hours=1))
    assert scope_recompute_claim(scope="arena") is not None
    assert scope_recompute_claim(scope="arena") is None


def test_a_recompute_of_unchanged_votes_writes_nothing(vote_writer: VoteWriter, quick: Any) -> None:
    a, b, _ = _systems()
    vote_writer.cast([(a, b, Choice.A)] * 2)
    assert leaderboard_recompute_run(scope="arena") is RecomputeOutcome.WRITTEN
    assert leaderboard_recompute_run(scope="arena") is RecomputeOutcome.UNCHANGED
    assert LeaderboardSnapshot.objects.count() == 1


# ---------------------------------------------------------------------------------------------------------------
# A real worker


def test_a_vote_is_counted_by_the_worker_after_commit(
    vote_writer: VoteWriter, quick: Any, celery_worker: Any, published_tasks: list
) -> None:
    from tests.waiting import wait_for

    a, b, _ = _systems()
    with transaction.atomic():
        vote = vote_writer.cast([(a, b, Choice.A)], musicality=Choice.B)[0]
        leaderboards_request_recompute(scopes=vote_scopes(vote))
        assert published_tasks == []  # nothing leaves before the commit
    # One recompute per scope the vote touched: overall, musicality, instrumental.
    assert sorted(p.args[0] for p in published_tasks) == ["arena", "arena:bank", "arena:instrumental",
                                                          "arena:musicality"]

    wait_for("a snapshot of the vote on each of its three boards",
             lambda: all(_snapshot_counts(s) == 1 for s in ("arena", "arena:musicality", "arena:instrumental")))
    top = snapshot_current(scope="arena:musicality").rows[0]  # type: ignore[union-attr]
    assert top["system_id"] == b.pk
    # Each run gives its claim back just after its snapshot commits.
    wait_for("every run to give its claim back",
             lambda: not ScopeRecompute.objects.filter(running_since__isnull=False).exists())


def test_a_burst_of_votes_is_recomputed_once(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any, celery_queue: str, published_tasks: list
) -> None:
    from tests.realstack import celery_worker_running
    from tests.waiting import wait_for

    # The worker starts after the burst, so the first tasks still wait in the queue however long this machine
    # takes over the 30 transactions (with a live worker and a debounce shorter than the burst, a slow machine
    # would rightly run a second recompute); the marks hold far longer than any burst.
    quick.EARSHOT_RECOMPUTE_STALE_SECONDS = 600.0
    a, b, c = _systems()
    for pair in [(a, b, Choice.A), (b, c, Choice.A), (c, a, Choice.TIE)] * 10:
        _vote_like_the_arena(vote_writer, pair)
    # 30 separate vote transactions, three scopes each (overall, instrumental, bank prompts): one task per scope.
    assert sorted(p.args[0] for p in published_tasks) == ["arena", "arena:bank", "arena:instrumental"]

    with celery_worker_running(celery_app_on_queue, celery_queue):
        wait_for("both boards to count the 30 votes",
                 lambda: _snapshot_counts("arena") == 30 and _snapshot_counts("arena:instrumental") == 30)
    assert LeaderboardSnapshot.objects.filter(scope="arena").count() == 1
    assert len(published_tasks) == 3


def test_votes_survive_a_redis_flush_and_the_full_recompute_counts_them(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any, celery_queue: str, settings: Any
) -> None:
    """Redis holds only queued messages: lose them all and the periodic full recompute still counts every vote."""
    from tests.realstack import celery_worker_running
    from tests.waiting import wait_for

    a, b, c = _systems()
    for pair in [(a, b, Choice.A), (b, c, Choice.B), (a, c, Choice.TIE)] * 4:
        _vote_like_the_arena(vote_writer, pair, prompt_alignment=Choice.A)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    assert broker.llen(celery_queue) == 4  # one queued recompute per touched scope
    # What a Redis restart without persistence does to them: the queued recomputes are gone. (Only this session's
    # queue is dropped, so other users of the same Redis database are left alone.)
    broker.delete(celery_queue)
    assert broker.llen(celery_queue) == 0
    assert Vote.objects.count() == 12

    with celery_worker_running(celery_app_on_queue, celery_queue):
        queued = leaderboards_recompute_all.delay()
        del queued
        wait_for("the full recompute to count the 12 votes on every board",
                 lambda: all(_snapshot_counts(s) == 12
                             for s in ("arena", "arena:prompt_alignment", "arena:instrumental")))

        # The runs of the full recompute cleared the marks the lost messages had left: votes queue again.
        _vote_like_the_arena(vote_writer, (c, a, Choice.A))
        wait_for("the arena board to count the vote cast after the flush", lambda: _snapshot_counts("arena") == 13)


def test_the_full_recompute_queues_every_scope_with_votes(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any, celery_queue: str, settings: Any
) -> None:
    a, b, _ = _systems()
    vote_writer.cast([(a, b, Choice.A)], lyrics_alignment=Choice.B)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    assert leaderboards_recompute_all.apply().get() == ["arena", "arena:lyrics_alignment", "arena:instrumental",
                                                         "arena:bank"]
    assert broker.llen(celery_queue) == 4


def test_the_full_recompute_trims_each_scopes_history(
    vote_writer: VoteWriter, quick: Any, celery_app_on_queue: Any
) -> None:
    quick.EARSHOT_LEADERBOARD_HISTORY_KEEP = 3
    a, b, _ = _systems()
    for _ in range(5):
        vote_writer.cast([(a, b, Choice.A)])
        snapshot_refresh(scope=scope_parse("arena"))
    leaderboards_recompute_all.apply().get()
    kept = LeaderboardSnapshot.objects.filter(scope="arena").order_by("computed_at", "id")
    assert [snapshot.vote_count for snapshot in kept] == [3, 4, 5]


def test_an_unknown_scope_task_is_dropped(celery_app_on_queue: Any) -> None:
    assert leaderboard_recompute.apply(args=["arena:tempo"]).get() == "unknown"


# ---------------------------------------------------------------------------------------------------------------
# Pushes


def test_a_snapshot_plus_the_pushed_updates_equals_a_fresh_recompute(
    vote_writer: VoteWriter, quick: Any, celery_worker: Any, redis_channel_layer: Any
) -> None:
    a, b, c = _systems()
    vote_writer.cast([(a, b, Choice.A)] * 3 + [(b, c, Choice.B)] * 2)
    snapshot_refresh(scope=scope_parse("arena"))
    batches = [
        [(a, b, Choice.B), (c, a, Choice.A)],
        [(b, c, Choice.TIE)] * 3,
        [(c, b, Choice.A), (a, c, Choice.BOTH_BAD), (a, b, Choice.A)],
    ]

    async def scenario() -> dict[str, Any]:
        communicator = WebsocketCommunicator(application, "/ws/leaderboards/arena/",
                                             headers=[(b"origin", b"http://localhost")])
        assert (await communicator.connect())[0]
        state = (await communicator.receive_json_from(timeout=5))["snapshot"]
        assert state["vote_count"] == 5
        for batch in batches:
            for pair in batch:
                await database_sync_to_async(_vote_like_the_arena)(vote_writer, pair)
            # Apply pushes as a client would (newest id wins) until this batch is counted.
            while state["vote_count"] < 5 + sum(len(done) for done in batches[: batches.index(batch) + 1]):
                frame = await communicator.receive_json_from(timeout=20)
                if frame["snapshot"]["id"] > state["id"]:
                    state = frame["snapshot"]
        await communicator.disconnect()
        return state

    client_state = async_to_sync(scenario)()
    fresh = snapshot_compute(scope=scope_parse("arena"))
    assert client_state["vote_count"] == fresh.vote_count == Vote.objects.count() == 13
    assert client_state["rows"] == json.loads(json.dumps(fresh.rows))
    assert client_state["win_rate"] == json.loads(json.dumps(fresh.win_rate))
    assert client_state["last_vote_id"] == fresh.last_vote_id
