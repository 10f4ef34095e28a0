"""A per-process memo with a time limit, for small reads every request makes and a few seconds' staleness allows
(the sampling catalogue, the reveal's ratings): one dict lookup instead of a query or a cache round trip."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

_memo: dict[str, tuple[float, Any]] = {}


def memo_clock() -> float:
    """Seconds on a clock that only moves forward; tests replace this to move time without waiting."""
    return time.monotonic()


def process_memo[T](key: str, compute: Callable[[], T], *, seconds: float, fresh: bool = False) -> T:
    """compute()'s value, reused in this process for `seconds`; 0 seconds (tests) or `fresh` always computes."""
    now = memo_clock()
    if seconds > 0 and not fresh:
        stored = _memo.get(key)
        if stored is not None and now - stored[0] < seconds:
            return cast(T, stored[1])
    value = compute()
    if seconds > 0:
        _memo[key] = (now, value)
    return value


def process_memo_clear() -> None:
    _memo.clear()
