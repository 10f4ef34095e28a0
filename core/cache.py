"""The shared cache's hot operations in one round trip: counters and add-if-absent marks over several keys.

Django's Redis backend makes a client per call and one command per key; on the request path of the arena that
costs more than the work itself, so these go through one pipeline on a per-process client (any other cache
backend, e.g. the embedded locmem, gets the cache's own calls).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)
# What a cache call raises when Redis is down or unreachable (redis-py's errors; a socket error where one leaks).
CACHE_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.RedisError, OSError)


def _cache_write_server() -> str:
    location = settings.CACHES["default"]["LOCATION"]
    servers = re.split("[;,]", location) if isinstance(location, str) else list(location)
    return servers[0]


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    # The same time limits as the Django cache's own client (settings.CACHES), so a dead Redis fails fast.
    options = cast(dict[str, Any], settings.CACHES["default"].get("OPTIONS", {}))
    return redis.Redis.from_url(url, **options)


def cache_redis() -> redis.Redis | None:
    """A client on the cache's Redis (the write server), or None when the cache is not Redis."""
    if not isinstance(caches["default"], RedisCache):
        return None
    return _redis_client(_cache_write_server())


def cache_incr_many(keys: Sequence[tuple[str, int]]) -> list[int]:
    """Count one more in each (key, timeout) counter and return the new counts; a new counter expires after its
    timeout."""
    client = cache_redis()
    if client is None:
        return [_incr(key, timeout=timeout) for key, timeout in keys]
    pipeline = client.pipeline()
    for key, timeout in keys:
        full_key = cache.make_and_validate_key(key)
        pipeline.incr(full_key)
        pipeline.expire(full_key, timeout, nx=True)
    return [int(count) for count in pipeline.execute()[::2]]


def _incr(key: str, *, timeout: int) -> int:
    try:
        return int(cache.incr(key))
    except ValueError:
        # The first count: create the counter; if another request just did, count on it.
        if cache.add(key, 1, timeout=timeout):
            return 1
        return int(cache.incr(key))


def cache_add_many(keys: Sequence[str], *, timeout: float) -> list[bool]:
    """Set each key that is absent (atomically, for `timeout` seconds); True where this call set it."""
    client = cache_redis()
    if client is None:
        return [bool(cache.add(key, 1, timeout=timeout)) for key in keys]
    pipeline = client.pipeline(transaction=False)
    milliseconds = max(1, int(timeout * 1000))
    for key in keys:
        pipeline.set(cache.make_and_validate_key(key), b"1", nx=True, px=milliseconds)
    return [bool(done) for done in pipeline.execute()]


def cache_get_quietly(key: str) -> Any:
    """The cached value, or None when absent or when the cache is down (a read cache is not worth a failure)."""
    try:
        return cache.get(key)
    except CACHE_ERRORS as exc:
        logger.warning("cache read of %s skipped (cache unavailable: %s)", key, exc)
        return None


def cache_set_quietly(key: str, value: Any, *, timeout: float) -> None:
    """Store the value for `timeout` seconds; nothing (but a log line) when the cache is down."""
    try:
        cache.set(key, value, timeout=timeout)
    except CACHE_ERRORS as exc:
        logger.warning("cache write of %s skipped (cache unavailable: %s)", key, exc)
