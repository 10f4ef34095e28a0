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
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from arena.raters import ip_hash_for_request, rater_key_for_request
from core.cache import CACHE_ERRORS, cache_incr_many

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


def throttle_clock() -> float:
    """Seconds on the wall clock, which the windows are aligned to; tests replace this to freeze or move time."""
    return time.time()


@dataclass(frozen=True)
class Limit:
    """One counted identity of a request: which limit (scope, setting) and whose requests (identity); `refusal`
    is what the 429 says when this limit is the one reached (DRF's own words otherwise)."""

    scope: str
    setting: str
    identity: str
    refusal: str = ""


class WindowThrottle(BaseThrottle):
    """Request counters per identity and window, all counted in one cache round trip; subclasses say which."""

    def limits(self, request: Request) -> list[Limit]:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        now = throttle_clock()
        counted: list[tuple[str, int, int, float]] = []  # key, limit, timeout, retry after
        applied: list[Limit] = []
        for limit in self.limits(request):
            parsed = rate_parse(getattr(settings, limit.setting), setting=limit.setting)
            if parsed is None:
                continue
            most, seconds = parsed
            window = int(now // seconds)
            key = f"earshot:throttle:{limit.scope}:{limit.identity}:{seconds}:{window}"
            counted.append((key, most, seconds + 1, (window + 1) * seconds - now))
            applied.append(limit)
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
            self.reached = [
                limit for limit, (_, most, _, _), count in zip(applied, counted, counts, strict=True) if count > most
            ]
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


class _SaysWhichLimit(WindowThrottle):
    """A reached limit with words of its own (Limit.refusal) answers the 429 in them."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if super().allow_request(request, view):
            return True
        worded = [limit.refusal for limit in getattr(self, "reached", []) if limit.refusal]
        if worded:
            raise exceptions.Throttled(wait=self.wait(), detail=" ".join(worded))
        return False


class BattleCreateThrottle(_SaysWhichLimit, RaterAndIpThrottle):
    """RaterAndIpThrottle, and for a visit that has no rater yet (this request makes one), new anonymous raters
    per client address (EARSHOT_NEW_RATERS_PER_IP), counted in the same round trip."""

    def limits(self, request: Request) -> list[Limit]:
        limits = super().limits(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        hashed = ip_hash_for_request(request)
        if not signed_in and rater_key_for_request(request) is None and hashed:
            limits.append(Limit("new_rater", "EARSHOT_NEW_RATERS_PER_IP", hashed[:32],
                                refusal="Too many new raters from your address for now."))
        return limits


class VoteThrottle(_SaysWhichLimit, RaterAndIpThrottle):
    """RaterAndIpThrottle, and votes from one client address (EARSHOT_VOTES_PER_IP), in the same round trip."""

    def limits(self, request: Request) -> list[Limit]:
        limits = super().limits(request)
        hashed = ip_hash_for_request(request)
        if hashed:
            limits.append(Limit("votes_ip", "EARSHOT_VOTES_PER_IP", hashed[:32],
                                refusal="Too many votes from your address for now."))
        return limits


class GenerationThrottle(BattleCreateThrottle):
    """BattleCreateThrottle, and battles asked of the generators per rater (EARSHOT_GENERATION_RATE_RATER) and per
    client address (EARSHOT_GENERATION_RATE_IP), in the same round trip: each one costs two generations."""

    def limits(self, request: Request) -> list[Limit]:
        limits = super().limits(request)
        rater = rater_key_for_request(request)
        if rater:
            limits.append(Limit("generation_rater", "EARSHOT_GENERATION_RATE_RATER", rater,
                                refusal="You have asked for many new pieces of music in a short time."))
        hashed = ip_hash_for_request(request)
        if hashed:
            limits.append(Limit("generation_ip", "EARSHOT_GENERATION_RATE_IP", hashed[:32],
                                refusal="Many new pieces of music were asked for from your address."))
        return limits
