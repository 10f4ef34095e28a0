"""The test process's connection pool (on by default with PostgreSQL) for tests whose threads each keep their own
connection."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def database_pool_holding(size: int) -> Iterator[None]:
    """A connection pool of at least `size` connections for the block.

    A test whose threads each keep their own connection until they end needs one per thread: with fewer, a thread
    waits for a connection no other thread gives back before it ends, and fails with the pool's timeout."""
    from django.db import connection

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
