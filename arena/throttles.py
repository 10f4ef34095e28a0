"""Rate limits of the arena API, per rater and per (hashed) client address, counted in the shared cache.

Fixed one-period windows with an atomic counter: O(1) per request whatever the limit (DRF's own throttles keep a
list of every request time), at the price of allowing up to twice the rate across a window boundary.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from arena.raters import ip_hash_for_request, rater_key_for_request
from config.cache import CACHE_ERRORS, cache_incr_many

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Limit:
    """One counted identity of a request: which limit (scope, setting) and whose requests (identity)."""

    scope: str
    setting: str
    identity: str


class WindowThrottle(BaseThrottle):
    """Request counters per identity and window, all counted in one cache round trip; subclasses say which."""

    def limits(self, request: Request) -> list[Limit]:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        now = time.time()
        counted: list[tuple[str, int, int, float]] = []  # key, limit, timeout, retry after
        for limit in self.limits(request):
            parsed = rate_parse(getattr(settings, limit.setting), setting=limit.setting)
            if parsed is None:
                continue
            most, seconds = parsed
            window = int(now // seconds)
            key = f"earshot:throttle:{limit.scope}:{limit.identity}:{seconds}:{window}"
            counted.append((key, most, seconds + 1, (window + 1) * seconds - now))
        if not counted:
            return True
        try:
            counts = cache_incr_many([(key, timeout) for key, _, timeout, _ in counted])
        except CACHE_ERRORS as exc:
            # Fail open: with the shared cache down the request goes uncounted rather than refused (a vote must
            # not be lost to its rate limiter); logged so the outage is seen.
            logger.warning("rate limit not counted for %s (cache unavailable: %s)", request.path, exc)
            return True
        over = [retry for (_, most, _, retry), count in zip(counted, counts, strict=True) if count > most]
        if over:
            self.retry_after = max(over)
            return False
        return True

    def wait(self) -> float | None:
        return getattr(self, "retry_after", None)


def _ip_limit(request: Request) -> list[Limit]:
    hashed = ip_hash_for_request(request)
    return [Limit("ip", "EARSHOT_RATE_LIMIT_IP", hashed[:32])] if hashed else []


class RaterAndIpThrottle(WindowThrottle):
    """Requests of one rater (EARSHOT_RATE_LIMIT_RATER) and from one client address (EARSHOT_RATE_LIMIT_IP).

    A rater is an account, or an anonymous session once it has its rater: a visit's very first request, which
    creates the rater, counts against the address limit only.
    """

    def limits(self, request: Request) -> list[Limit]:
        rater = rater_key_for_request(request)
        own = [Limit("rater", "EARSHOT_RATE_LIMIT_RATER", rater)] if rater else []
        return own + _ip_limit(request)


class IpThrottle(WindowThrottle):
    """Requests from one client address, known only by its salted hash."""

    def limits(self, request: Request) -> list[Limit]:
        return _ip_limit(request)
