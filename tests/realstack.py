"""Shared real-stack test fixtures: votes written straight to Postgres, a real Celery worker on Redis and the
Redis channel layer (the ASGI app on a real socket is tests.browser.asgi_live_server).

Load them in a test module with `pytest_plugins = ["tests.realstack"]`.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from arena.models import Battle, Clip, Prompt, Rater, System, Vote
from tests.factories import ClipFactory, PromptFactory, RaterFactory


@pytest.fixture
def real_stack() -> None:
    """Skip unless the real stack is configured (use with pytest.mark.usefixtures("real_stack"))."""
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        pytest.skip("needs the real stack: set DATABASE_URL=postgres://... and REDIS_URL=redis://...")


# ---------------------------------------------------------------------------------------------------------------
# Votes


@dataclass
class VoteWriter:
    """Writes arena battles and their votes directly, reusing one clip per (system, prompt)."""

    rater: Rater
    _clips: dict[tuple[int, int], Clip]

    def clip(self, system: System, prompt: Prompt, **fields: object) -> Clip:
        key = (system.pk, prompt.pk)
        if key not in self._clips:
            self._clips[key] = ClipFactory(system=system, prompt=prompt, **fields)
        return self._clips[key]

    def cast(
        self,
        pairs: Iterable[tuple[System, System, str]],
        *,
        prompt: Prompt | None = None,
        **vote_fields: str,
    ) -> list[Vote]:
        """One battle and one vote per (system shown as A, system shown as B, overall choice)."""
        prompt = prompt or PromptFactory()
        battles = []
        planned = list(pairs)
        for system_a, system_b, _ in planned:
            battles.append(
                Battle(
                    rater=self.rater,
                    prompt=prompt,
                    clip_a=self.clip(system_a, prompt),
                    clip_b=self.clip(system_b, prompt),
                    status=Battle.Status.VOTED,
                    expires_at=timezone.now() + timedelta(hours=1),
                )
            )
        battles = Battle.objects.bulk_create(battles)
        votes = [
            Vote(
                battle=battle,
                rater=self.rater,
                system_a=system_a,
                system_b=system_b,
                prompt=prompt,
                choice=choice,
                **vote_fields,
            )
            for battle, (system_a, system_b, choice) in zip(battles, planned, strict=True)
        ]
        return Vote.objects.bulk_create(votes)


@pytest.fixture
def vote_writer(db: None) -> VoteWriter:
    return VoteWriter(rater=RaterFactory(), _clips={})


# ---------------------------------------------------------------------------------------------------------------
# Celery worker on Redis


@pytest.fixture(scope="session")
def celery_queue() -> str:
    """A queue of this test session alone, so stale messages from other runs or other helpers never reach us."""
    return f"earshot-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def celery_app_on_queue(celery_queue: str) -> Iterator[object]:
    """The project's Celery app, not eager, sending every task to this session's queue."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_default_queue, app.conf.task_routes)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = celery_queue
    app.conf.task_routes = {"*": {"queue": celery_queue}}
    _routes_reread(app)
    with app.connection_for_write() as connection:
        # Leftovers of an earlier test in this session (e.g. debounced tasks never run) must not leak in.
        connection.default_channel.queue_purge(celery_queue)
    yield app
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(celery_queue)
    app.conf.task_always_eager, app.conf.task_default_queue, app.conf.task_routes = saved
    _routes_reread(app)


def _routes_reread(app: Any) -> None:
    """Celery caches its router (and the routes table) at the first send: a task sent before this fixture (an
    import's after-commit scoring) would keep the settings' routes, e.g. live generation's own queue."""
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


@dataclass(frozen=True)
class Published:
    task: str
    args: tuple[object, ...]
    eta: str | None


@pytest.fixture
def published_tasks() -> Iterator[list[Published]]:
    """Every Celery message sent to the broker during the test (Celery's own after_task_publish signal)."""
    from celery.signals import after_task_publish

    sent: list[Published] = []

    def record(sender: str | None = None, headers: dict | None = None, body: object = None, **_: object) -> None:
        headers = headers or {}
        args = tuple(body[0]) if isinstance(body, tuple | list) and body else ()
        sent.append(Published(task=str(headers.get("task", sender)), args=args, eta=headers.get("eta")))

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


@contextmanager
def celery_worker_running(app: object, queue: str) -> Iterator[object]:
    """A real Celery worker thread (solo pool) consuming `queue` from Redis until the block ends."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        app,  # type: ignore[arg-type]
        queues=[queue],
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        shutdown_timeout=30.0,
        loglevel="WARNING",
    ) as worker:
        yield worker


@pytest.fixture
def celery_worker(celery_app_on_queue: object, celery_queue: str, transactional_db: None) -> Iterator[object]:
    """A real Celery worker consuming this session's queue from Redis, against the test database."""
    with celery_worker_running(celery_app_on_queue, celery_queue) as worker:
        yield worker


# ---------------------------------------------------------------------------------------------------------------
# Channel layer


@pytest.fixture
def redis_channel_layer() -> Iterator[object]:
    """The project's channel layer, checked to be Redis; a fresh instance per test, as its pools bind to a loop."""
    from channels.layers import channel_layers, get_channel_layer

    channel_layers.backends.clear()
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer", f"expected the Redis channel layer, got {layer!r}"
    yield layer
    channel_layers.backends.clear()
