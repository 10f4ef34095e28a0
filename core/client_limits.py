"""Per-client limits kept in the shared cache: failed admin sign-ins per window, and open websockets.

Identities are salted hashes (never addresses or user names in clear). A cache that cannot be reached lets the
request through and logs: a limit is protection, not a reason to lock everyone out.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from django.core.cache import cache

from core.cache import cache_incr_many

logger = logging.getLogger(__name__)
CACHE_ERRORS = (redis.exceptions.RedisError, OSError)
# An open-socket counter lives at most this long after its first socket (a crashed process cannot leave a client
# refused for longer); a socket older than that is simply not counted any more.
OPEN_COUNT_SECONDS = 24 * 3600
clock: Callable[[], float] = time.time  # windows follow this clock; tests set it, so none straddles a boundary


def _window_key(name: str, identity: str, seconds: int) -> str:
    return f"earshot:{name}:{identity}:{seconds}:{int(clock() // seconds)}"


def failures_over(*, name: str, identity: str, limit: int, seconds: int) -> float | None:
    """Seconds until the window ends when `identity` already has `limit` failures in it, else None."""
    try:
        count = cache.get(_window_key(name, identity, seconds)) or 0
    except CACHE_ERRORS:
        logger.warning("limit %s not checked: the cache is unreachable", name, exc_info=True)
        return None
    if int(count) < limit:
        return None
    return seconds - clock() % seconds


def failure_count(*, name: str, identity: str, seconds: int) -> None:
    """Count one more failure of `identity` in the current window."""
    try:
        cache_incr_many([(_window_key(name, identity, seconds), seconds + 1)])
    except CACHE_ERRORS:
        logger.warning("failure for limit %s not counted: the cache is unreachable", name, exc_info=True)


def open_count_add(*, name: str, identity: str, limit: int) -> bool:
    """Count one more open thing of `identity`; False (and not counted) when it already holds `limit`."""
    key = f"earshot:{name}:{identity}"
    try:
        count = cache_incr_many([(key, OPEN_COUNT_SECONDS)])[0]
        if count <= limit:
            return True
        _decrement(key)
    except CACHE_ERRORS:
        logger.warning("limit %s not checked: the cache is unreachable", name, exc_info=True)
        return True
    return False


def open_count_remove(*, name: str, identity: str) -> None:
    try:
        _decrement(f"earshot:{name}:{identity}")
    except CACHE_ERRORS:
        logger.warning("open %s not uncounted: the cache is unreachable", name, exc_info=True)


def _decrement(key: str) -> None:
    try:
        if cache.decr(key) <= 0:
            cache.delete(key)
    except ValueError:
        pass  # the counter expired meanwhile: nothing left to take back
