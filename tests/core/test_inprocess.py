"""The embedded default's in-process worker: a demo vote answers before its leaderboard recompute runs, and the
board (and its live push) follows once the worker runs it."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from arena.models import Battle, Vote
from core import inprocess
from scoring.models import LeaderboardSnapshot
from scoring.scopes import scope_parse
from tests.arena.arena_support import (  # noqa: F401 - autouse fixture
    arena_isolated,
    audio_fetch,
    battle_age,
    catalogue_import,
    listening_events,
)


@pytest.fixture
def embedded(settings: Any) -> Iterator[inprocess.InProcessWorker]:
    """Eager Celery and the in-memory channel layer, as `make demo` runs, with a held in-process worker."""
    settings.EARSHOT_INPROCESS_WORKER = True
    settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = 0
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    held = inprocess.InProcessWorker(held=True)
    inprocess.worker_replace(held)
    yield held
    held.release()
    held.wait_idle(timeout=120)
    inprocess.worker_replace(None)
    current_app.conf.task_always_eager = eager


@pytest.mark.django_db(transaction=True)  # the worker's thread reads what the vote committed
def test_a_demo_vote_answers_before_its_recompute_and_the_board_follows(
    tmp_path: Path, embedded: inprocess.InProcessWorker
) -> None:
    catalogue_import(tmp_path, systems=2, prompts=1, seconds=1.0)
    layer = get_channel_layer()
    assert layer is not None
    listener = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(scope_parse("arena").group, listener)

    client = APIClient()
    body = client.post("/api/battles/").json()
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    audio_fetch(client, body)
    events = listening_events(a_ms=body["min_listen_ms"]["a"], b_ms=body["min_listen_ms"]["b"])
    voted = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a", "events": events}, format="json")

    assert voted.status_code == 201, voted.content
    assert Vote.objects.count() == 1
    assert not LeaderboardSnapshot.objects.exists()  # answered with the recomputes still waiting
    assert embedded.pending >= 1

    embedded.release()
    assert embedded.wait_idle(timeout=120)
    board = LeaderboardSnapshot.objects.filter(scope="arena").latest("id")
    assert board.vote_count == 1
    pushed = async_to_sync(layer.receive)(listener)
    assert pushed["type"] == "leaderboard.snapshot"
    assert json.loads(pushed["payload"])["vote_count"] == 1


def test_jobs_wait_for_their_countdown_on_the_workers_clock() -> None:
    now = [100.0]
    ran: list[str] = []
    worker = inprocess.InProcessWorker(clock=lambda: now[0], held=True)

    class Job:
        options = {"countdown": 5}
        task = "test.job"

        def apply(self) -> None:
            ran.append("ran")

    worker.submit(Job())  # type: ignore[arg-type]
    worker.release()
    assert not worker.wait_idle(timeout=0.2)  # due at 105 on a clock that stands at 100
    assert ran == []
    now[0] = 105.0
    worker.release()  # wakes the worker to look at the clock again
    assert worker.wait_idle(timeout=60)
    assert ran == ["ran"]
