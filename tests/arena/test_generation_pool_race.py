"""Listeners claiming ready battles of the pool at the same moment, on PostgreSQL with real threads: without the
row lock two of them take the same battle; with it (SELECT … FOR UPDATE SKIP LOCKED) each gets its own, the one
too many gets none, and the pool is refilled to its share afterwards."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import arena.services.generation as generation_services
from arena.models import Battle, GenerationRequest
from arena.services.generation import pool_claim
from arena.services.generation_pool import generation_pool_refill
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.arena.generator_support import generator_server
from tests.factories import PromptFactory, RaterFactory, SystemFactory
from tests.threads import database_pool_holding, needs_row_locks, run_threads

pytestmark = [needs_row_locks, pytest.mark.django_db(transaction=True)]
HTTP = "arena.generation.generators.HttpJsonGenerator"
LISTENERS = 3
POOLED = 2  # one pair of systems, two ready battles: one listener too many


@pytest.fixture
def pooled() -> Iterator[list[GenerationRequest]]:
    """Two ready battles of one system pair in the pool, generated for real (eager Celery, a local generator)."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with generator_server() as server:
            for slug in ("one", "two"):
                SystemFactory(slug=slug, name=slug, generator=HTTP, generator_config={
                    "endpoint": server.endpoint("ok", system=slug), "timeout_s": 5, "default_duration_s": 2.0})
            PromptFactory(text="a bank prompt: a slow air on a fiddle")
            assert generation_pool_refill(per_pair=POOLED) == POOLED
            ready = list(GenerationRequest.objects.filter(rater__isnull=True, status="ready"))
            assert len(ready) == POOLED
            yield ready
    finally:
        app.conf.task_always_eager = saved


@pytest.mark.parametrize("guarded", [False, True])
def test_listeners_claiming_at_once_never_get_the_same_ready_battle(
    guarded: bool, pooled: list[GenerationRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    raters = [RaterFactory() for _ in range(LISTENERS if guarded else POOLED)]
    read = threading.Barrier(len(raters), timeout=60)
    pick = generation_services._pool_pick
    if not guarded:  # the race without the row lock: every claim reads the same oldest request before any writes

        def pick(pooled: Any) -> GenerationRequest | None:  # noqa: F811
            return pooled.order_by("id").first()

    def pick_then_meet(pooled: Any) -> GenerationRequest | None:
        found = pick(pooled)
        read.wait()  # every claim has read (and, guarded, locked) its request before any of them goes on
        return found

    monkeypatch.setattr(generation_services, "_pool_pick", pick_then_meet)

    def claim(index: int) -> int | None:
        request = pool_claim(rater=raters[index])
        return None if request is None else request.pk

    with database_pool_holding(len(raters) + 1):
        claimed = run_threads(claim, len(raters))
    taken = [pk for pk in claimed if pk is not None]
    if not guarded:
        assert len(taken) == POOLED and len(set(taken)) == 1  # two listeners got one battle
        return
    assert sorted(taken) == sorted(r.pk for r in pooled) and claimed.count(None) == LISTENERS - POOLED
    for request in GenerationRequest.objects.filter(pk__in=taken).select_related("battle"):
        assert request.battle is not None and request.battle.rater_id == request.rater_id
    assert Battle.objects.count() == POOLED
    assert len({battle.rater_id for battle in Battle.objects.all()}) == POOLED


def test_the_pool_is_refilled_to_its_share_after_claims(pooled: list[GenerationRequest]) -> None:
    for _ in range(POOLED):
        assert pool_claim(rater=RaterFactory()) is not None
    assert pool_claim(rater=RaterFactory()) is None  # taken empty
    assert generation_pool_refill(per_pair=POOLED) == POOLED  # generated again (eager), while the fixture's server runs
    assert generation_pool_refill(per_pair=POOLED) == 0
    ready = GenerationRequest.objects.filter(rater__isnull=True, battle__isnull=True, status="ready")
    assert ready.count() == POOLED
    assert pool_claim(rater=RaterFactory()) is not None
