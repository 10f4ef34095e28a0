"""The embedded default's worker: with eager Celery (no broker, `make demo`), the debounced jobs a request queues
after its commit (a vote's leaderboard recomputes and agreement report) run on one thread of the web process once
their countdown has passed, instead of inside the request that queued them.

A job runs as eager Celery would run it (`Signature.apply()`), one at a time. A snapshot it pushes to a channel
group is sent on the event loop of the ASGI server that took the request (the in-memory channel layer's queues
belong to that loop), so the live boards still update. Without a server loop (a WSGI server, a command) it is sent
from the worker's thread.
"""
from __future__ import annotations

import asyncio
import atexit
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from celery import Signature, current_app
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)
# The ASGI server's event loop while the worker runs a job queued from one of its requests.
_server_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("earshot_server_loop", default=None)


def worker_enabled() -> bool:
    """Whether debounced jobs go to the in-process worker: EARSHOT_INPROCESS_WORKER with eager Celery."""
    return bool(settings.EARSHOT_INPROCESS_WORKER and current_app.conf.task_always_eager)


async def _awaited(make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    await make()


def calling_server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the ASGI server whose request runs this sync code; None outside one.

    Read where asgiref's own async_to_sync looks for it (the thread-local sync_to_async sets in the thread it runs
    a sync view on), rather than by running a probe coroutine through async_to_sync: without a server loop that
    made a new event loop in a new thread each time (several ms per job queued)."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


def run_on_server_loop(make: Callable[[], Coroutine[Any, Any, Any]], *, timeout: float) -> None:
    """Await the coroutine on the server's loop when the worker runs a job for a request of an ASGI server (the
    in-memory channel layer is not thread-safe); else run it here, as async_to_sync does."""
    loop = _server_loop.get()
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(make(), loop).result(timeout)
        return
    async_to_sync(_awaited)(make)


class InProcessWorker:
    """Jobs due at a time on one daemon thread, started with the first job. A worker made `held` runs nothing until
    release() (tests hold it to see what a request left queued); `clock` gives monotonic seconds."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, held: bool = False) -> None:
        self.clock = clock
        self._held = held
        self._due: list[tuple[float, int, Signature, asyncio.AbstractEventLoop | None]] = []
        self._order = itertools.count()
        self._running = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, signature: Signature, *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        countdown = float(signature.options.get("countdown") or 0)
        with self._changed:
            heapq.heappush(self._due, (self.clock() + countdown, next(self._order), signature, loop))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="earshot-inprocess-worker", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()

    @property
    def pending(self) -> int:
        with self._changed:
            return len(self._due) + self._running

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job waits or runs (True), or `timeout` seconds passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._due and not self._running, timeout)

    def _next_job(self) -> tuple[Signature, asyncio.AbstractEventLoop | None]:
        with self._changed:
            while True:
                wait = None  # nothing due, or held: wait for submit() or release()
                if self._due and not self._held:
                    wait = self._due[0][0] - self.clock()
                    if wait <= 0:
                        _, _, signature, loop = heapq.heappop(self._due)
                        self._running += 1
                        return signature, loop
                self._changed.wait(wait)

    def _serve(self) -> None:
        while True:
            signature, loop = self._next_job()
            token = _server_loop.set(loop)
            try:
                signature.apply()
            except Exception:
                logger.exception("in-process job %s failed (the next vote after its mark expires queues it again)",
                                 signature.task)
            finally:
                _server_loop.reset(token)
                connections.close_all()  # this thread's connections (a pooled one would be lost otherwise)
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()


_worker: InProcessWorker | None = None
_worker_lock = threading.Lock()
# At exit (a command such as seed_demo, or the server stopping) the jobs still queued run first: the worker's thread
# is a daemon, which the interpreter would otherwise stop wherever it is.
EXIT_DRAIN_SECONDS = 300.0


def worker() -> InProcessWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = InProcessWorker()
            atexit.register(_worker.wait_idle, EXIT_DRAIN_SECONDS)
        return _worker


def worker_replace(replacement: InProcessWorker | None) -> None:
    """Use another worker from now on (tests hand in a held one); None makes a fresh one when next needed."""
    global _worker
    with _worker_lock:
        _worker = replacement


def task_modules_warm() -> None:
    """In the embedded demo's server, load the task modules (the reward model's import torch: seconds) on a thread
    at start, so the first vote does not wait for them. Nothing elsewhere: workers load their own."""
    if not worker_enabled():
        return
    from core.oncommit import task_modules_import

    threading.Thread(target=task_modules_import, name="earshot-task-modules", daemon=True).start()


def job_submit(signature: Signature) -> None:
    """Queue the job on the in-process worker, remembering the calling ASGI server's loop."""
    worker().submit(signature, loop=calling_server_loop())
