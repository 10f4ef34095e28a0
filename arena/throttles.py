"""Rate limits of the arena API, per rater and per (hashed) client address, counted in the shared cache.

Fixed one-period windows with an atomic counter: O(1) per request whatever the limit (DRF's own throttles keep a
list of every request time), at the price of allowing up to twice the rate across a window boundary.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from arena.raters import ip_hash_for_request, rater_key_for_request

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
           "d": 86400, "day": 86400}


def rate_parse(rate: str | None, *, setting: str) -> tuple[int, int] | None:
    """'120/min' → (120, 60); empty or 'off' → None (no limit)."""
    if rate is None or rate.strip().lower() in ("", "off", "none"):
        return None
    try:
        count, period = rate.split("/")
        limit, seconds = int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{setting}={rate!r} is not a rate: use <count>/<s|min|hour|day>, e.g. 120/min, or 'off'"
        ) from exc
    if limit < 1:
        raise ImproperlyConfigured(f"{setting}={rate!r}: the count must be at least 1")
    return limit, seconds


class WindowThrottle(BaseThrottle):
    """A request counter per identity and window; subclasses say whose requests count and which setting limits."""

    scope = ""
    setting = ""

    def identity(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        parsed = rate_parse(getattr(settings, self.setting), setting=self.setting)
        who = self.identity(request)
        if parsed is None or who is None:
            return True
        limit, seconds = parsed
        now = time.time()
        window = int(now // seconds)
        self.retry_after = (window + 1) * seconds - now
        key = f"earshot:throttle:{self.scope}:{who}:{seconds}:{window}"
        return _window_count(key, timeout=seconds + 1) <= limit

    def wait(self) -> float | None:
        return getattr(self, "retry_after", None)


def _window_count(key: str, *, timeout: int) -> int:
    try:
        return int(cache.incr(key))
    except ValueError:
        # First request of the window: create the counter; if another request just did, count on it.
        if cache.add(key, 1, timeout=timeout):
            return 1
        return int(cache.incr(key))


class RaterThrottle(WindowThrottle):
    """Requests of one rater: an account, or an anonymous session once it has its rater (a visit's very first
    request, which creates the rater, counts against the address limit only)."""

    scope = "rater"
    setting = "EARSHOT_RATE_LIMIT_RATER"

    def identity(self, request: Request) -> str | None:
        return rater_key_for_request(request)


class IpThrottle(WindowThrottle):
    """Requests from one client address, known only by its salted hash."""

    scope = "ip"
    setting = "EARSHOT_RATE_LIMIT_IP"

    def identity(self, request: Request) -> str | None:
        hashed = ip_hash_for_request(request)
        return hashed[:32] if hashed else None
