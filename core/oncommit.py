"""Side effects that must wait for the surrounding transaction to commit: Celery enqueues (once per debounce
window where asked) and channel broadcasts.

None of them may turn a committed write into an error: with Redis (broker, cache, channel layer) down, the hook
logs and gives up, and the periodic full recompute redoes from PostgreSQL whatever it would have started.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from celery import Signature, Task, current_app
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from core import inprocess
from core.cache import CACHE_ERRORS, cache_add_many

logger = logging.getLogger(__name__)
# The hooks' Redis is down or unreachable: what they meet then (the cache, the broker or the channel layer).
REDIS_DOWN_ERRORS: tuple[type[Exception], ...] = (*CACHE_ERRORS, BrokerError)
BROADCAST_TIMEOUT_SECONDS = 10.0


def task_by_name(name: str) -> Signature:
    """A Celery task's signature by its name, so that code which queues a task need not import the task's module
    (web processes never import the tasks, nor what they import: torch, for the reward model's).

    With eager Celery (the embedded demo) this process is its own worker and runs what it queues, so the app's task
    modules are loaded first (Celery's autodiscovery is otherwise left to workers); a real worker loads them itself.
    """
    app = current_app
    if app.conf.task_always_eager:
        task_modules_import(app)
    return app.signature(name)


_task_modules_imported: set[int] = set()


def task_modules_import(app: Any = None) -> None:
    """Load the app's task modules once per process. Celery's loader does it again on every call, and its Django
    fixup runs Django's system checks each time (about 0.1 s), which a vote that queues four jobs paid four times."""
    app = app or current_app
    if id(app) not in _task_modules_imported:
        app.loader.import_default_modules()
        _task_modules_imported.add(id(app))


def _after_commit(action: Callable[[], object], *, what: str) -> None:
    """Run `action` once the transaction commits; a Redis outage is logged as a warning, anything else raised in
    it is logged with its traceback by Django (robust), and neither reaches the caller that committed."""

    def guarded() -> None:
        try:
            action()
        except REDIS_DOWN_ERRORS as exc:
            logger.warning("after commit, %s skipped (Redis unavailable: %s); the full recompute catches up",
                           what, exc)

    transaction.on_commit(guarded, robust=True)


def enqueue_on_commit(task: Task | Signature, *args: Any, **kwargs: Any) -> None:
    """Queue a Celery task once the current transaction commits (at once outside a transaction)."""
    _after_commit(lambda: task.apply_async(args=args, kwargs=kwargs), what=f"enqueue of {task.name}")


def broadcast_on_commit(group: str, message_type: str, payload: dict[str, Any]) -> None:
    """Send `payload` to a channel group after commit; it is serialised now, so later changes cannot leak in."""
    frozen = json.dumps(payload)

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            inprocess.run_on_server_loop(lambda: layer.group_send(group, {"type": message_type, "payload": frozen}),
                                         timeout=BROADCAST_TIMEOUT_SECONDS)

    _after_commit(send, what=f"broadcast to {group}")


def enqueue_once_on_commit(jobs: Sequence[tuple[str, Signature]], *, hold_seconds: float) -> None:
    """After commit, send each (mark, task signature) whose mark is not set, and set it for `hold_seconds`.

    A debounce without database writes: while a job waits in the queue its mark says so, and later requests send
    none. The task clears its mark (queued_mark_clear) before it reads anything, so a request committed after
    that sends a new job, and one committed before it is seen by the run. The mark is only set after the commit
    for the same reason. A lost message holds the mark until it expires; periodic catch-ups cover the gap.
    """
    pending = list(jobs)
    if not pending:
        return

    def send() -> None:
        fresh = cache_add_many([mark for mark, _ in pending], timeout=hold_seconds)
        off_request = inprocess.worker_enabled()
        for (_, signature), added in zip(pending, fresh, strict=True):
            if added and off_request:
                inprocess.job_submit(signature)  # eager Celery would run it inside this request
            elif added:
                signature.apply_async()

    _after_commit(send, what=f"debounced enqueue of {', '.join(mark for mark, _ in pending)}")


def queued_mark_clear(mark: str) -> None:
    """The job of this mark has started: requests from now on queue a new one."""
    cache.delete(mark)


def queued_mark_set(mark: str, *, hold_seconds: float) -> None:
    """Mark a job as queued whether or not it was (a task that sends itself again)."""
    cache.set(mark, 1, timeout=hold_seconds)
