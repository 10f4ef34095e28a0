"""20 listeners submit prompts at once against a generator that takes 2 s: every battle opens, and the votes'
recomputes go on meanwhile, because generations run on a queue of their own. Real Celery workers on Redis, as
deployed: a worker process of its own on the generation queue (threads), and one on the default queue (solo, in
this process). The generator holds every answer until the board was recomputed: the recompute cannot have slipped
in before the generations, whatever the machine's speed."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection, transaction

from arena.models import Generation, GenerationRequest, System
from arena.services.generation import prompt_submit
from scoring.scopes import vote_scopes
from scoring.selectors import snapshot_current
from scoring.services import leaderboards_request_recompute
from tests.arena.generator_support import GeneratorServer, generator_server
from tests.factories import RaterFactory, SystemFactory
from tests.threads import database_pool_holding, needs_row_locks, run_threads
from tests.waiting import wait_for

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.usefixtures("real_stack"), pytest.mark.realstack, pytest.mark.slow, needs_row_locks,
              pytest.mark.django_db(transaction=True)]
LISTENERS = 20
LATENCY_S = 2.0
GENERATION_THREADS = 8


@pytest.fixture
def two_queues(settings: Any) -> Iterator[tuple[Any, str, str]]:
    """The project's Celery app sending generations to one fresh queue and everything else to another."""
    from config.celery import app

    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100
    settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = 0.1
    run = uuid.uuid4().hex[:12]
    generation, default = f"earshot-test-gen-{run}", f"earshot-test-default-{run}"
    saved = (app.conf.task_always_eager, app.conf.task_default_queue, app.conf.task_routes)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = default
    app.conf.task_routes = {"arena.tasks.generation_*": {"queue": generation}, "*": {"queue": default}}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    yield app, generation, default
    with app.connection_for_write() as connection:
        for queue in (generation, default):
            connection.default_channel.queue_purge(queue)
    app.conf.task_always_eager, app.conf.task_default_queue, app.conf.task_routes = saved
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


@pytest.fixture
def generation_worker(two_queues: tuple[Any, str, str], settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A config worker -Q <generation queue> -P threads` in a process of its own, on the test database."""
    _, generation_queue, _ = two_queues
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + str(connection.settings_dict["NAME"])
    env = {**os.environ, "DATABASE_URL": url, "EARSHOT_GENERATION_QUEUE": generation_queue,
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "DB_POOL_MAX": str(GENERATION_THREADS + 4)}
    celery = Path(sys.executable).with_name("celery")
    worker = subprocess.Popen(  # noqa: S603 (our own venv's celery, fixed arguments)
        [str(celery), "-A", "config", "worker", "-Q", generation_queue, "-P", "threads",
         "-c", str(GENERATION_THREADS), "-l", "WARNING", "-n", f"{generation_queue}@%h", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        env=env, cwd=Path(__file__).resolve().parents[2])
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


@pytest.fixture
def held_generator() -> Iterator[GeneratorServer]:
    import threading

    with generator_server(latency_s=LATENCY_S) as server:
        server.hold = threading.Event()
        yield server
        server.hold.set()


def test_twenty_prompts_at_once_all_open_and_recomputes_are_not_starved(
    two_queues: tuple[Any, str, str], held_generator: GeneratorServer, vote_writer: VoteWriter,
    generation_worker: subprocess.Popen[bytes],
) -> None:
    from tests.realstack import celery_worker_running  # a plugin here: imported once pytest has loaded it

    app, generation_queue, default_queue = two_queues
    systems = [SystemFactory(slug=slug, name=slug, generator="arena.generation.generators.HttpJsonGenerator",
                             generator_config={"endpoint": held_generator.endpoint("ok", system=slug),
                                               "timeout_s": 120, "concurrency": LISTENERS, "default_duration_s": 3.0})
               for slug in ("gen-a", "gen-b")]
    raters = [RaterFactory() for _ in range(LISTENERS)]
    with database_pool_holding(LISTENERS + 6), celery_worker_running(app, default_queue):
        submitted = run_threads(
            lambda i: prompt_submit(rater=raters[i], text=f"listener {i}: a calm piano piece").public_id, LISTENERS)
        # The generation workers are all busy on held generations.
        wait_for("the generation threads to be busy", lambda: Generation.objects.filter(
            status=Generation.Status.RUNNING).count() >= GENERATION_THREADS, timeout=120)
        # A vote now: its recompute runs on the default queue while every generation thread waits on the generator.
        imported = [System.objects.create(name=f"Imported {n}", slug=f"imported-{n}") for n in "xy"]
        with transaction.atomic():
            vote = vote_writer.cast([(imported[0], imported[1], "a")])[0]
            leaderboards_request_recompute(scopes=vote_scopes(vote))
        wait_for("the vote's recompute", lambda: snapshot_current(scope="arena") is not None, timeout=120)
        assert not GenerationRequest.objects.filter(status=GenerationRequest.Status.READY).exists()
        assert held_generator.requests  # generations were in flight while the board was recomputed
        held_generator.hold.set()
        wait_for("every battle to open", lambda: GenerationRequest.objects.filter(
            public_id__in=submitted, status=GenerationRequest.Status.READY, battle__isnull=False
        ).count() == LISTENERS, timeout=300)
    requests = GenerationRequest.objects.filter(public_id__in=submitted).select_related("battle")
    assert {r.status for r in requests} == {"ready"}
    assert {r.battle.rater_id for r in requests} == {r.pk for r in raters}
    assert Generation.objects.filter(status="done").count() == 2 * LISTENERS
    assert {g.system_id for g in Generation.objects.all()} == {s.pk for s in systems}
