"""Real threads against the database, for race tests: start them, let each close its connection as it ends, join
them, and hand the first error any of them raised back to the test; and a connection pool large enough for them.

    from tests.threads import database_pool_holding, needs_row_locks, run_threads

A race test makes its threads meet at barriers of its own (threading.Barrier with a timeout) inside `target`, so
the interleaving it proves is made certain rather than left to how a machine schedules threads.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

needs_row_locks = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks and concurrent transactions need PostgreSQL (SQLite serialises every writer)",
)
JOIN_TIMEOUT = 300.0  # only a bound for a broken run (a thread stuck on a lock): a race itself waits on barriers


def run_threads[T](target: Callable[[int], T], count: int, *, timeout: float = JOIN_TIMEOUT) -> list[T]:
    """Run `target(index)` for index 0..count-1, each in a thread of its own, all at once; return what each
    returned, in index order.

    Each thread closes its database connections as it ends (with a pool, it gives its connection back). If any
    thread raised, the first exception raised (in time) is raised here once all have ended."""
    from django.db import connections

    results: dict[int, T] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            value = target(index)
        except BaseException as exc:  # handed to the test's thread below
            with lock:
                errors.append(exc)
        else:
            with lock:
                results[index] = value
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,), name=f"race-{index}") for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        pytest.fail(f"threads {stuck} still running after {timeout:g} s")
    if errors:
        raise errors[0]
    return [results[index] for index in range(count)]


@contextmanager
def database_pool_holding(size: int) -> Iterator[None]:
    """A connection pool of at least `size` connections for the block.

    A test whose threads each keep their own connection until they end needs one per thread: with fewer, a thread
    waits for a connection no other thread gives back before it ends, and fails with the pool's timeout."""
    options = connection.settings_dict.get("OPTIONS", {})
    pool = options.get("pool")
    if not isinstance(pool, dict) or pool.get("max_size", 0) >= size:
        yield
        return
    saved = dict(pool)

    def reopen(settings: dict[str, object]) -> None:
        connection.close()
        connection.close_pool()  # the next connection builds a new pool from the shared settings
        options["pool"] = settings

    reopen({**saved, "max_size": size})
    try:
        yield
    finally:
        reopen(saved)
