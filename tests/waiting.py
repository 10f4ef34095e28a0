"""The one way a test waits for something that happens beside it (a Celery worker, a server thread, a key
expiring in Redis): poll a condition until it holds, or fail naming what was awaited.

    from tests.waiting import wait_for

The timeouts are generous upper bounds for a slow, busy machine, not claims about speed: a passing test returns as
soon as its condition holds.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest

DEFAULT_TIMEOUT = 60.0


def wait_for[T](what: str, condition: Callable[[], T], *, timeout: float = DEFAULT_TIMEOUT,
                interval: float = 0.05) -> T:
    """Poll `condition()` until it returns a truthy value and return that value; past `timeout` seconds, fail the
    test with a message naming `what` was awaited and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last seen: {value!r})")
        time.sleep(interval)
