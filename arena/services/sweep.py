"""The arena's periodic sweep: expired battles marked, anonymous raters that never voted pruned, expired sessions
cleared. Every part is idempotent, so a sweep run twice, or two at once, does no harm."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from django.conf import settings

from arena.services.battles import battles_expire
from arena.services.raters import raters_prune


@dataclass(frozen=True)
class SweepCounts:
    battles_expired: int
    raters_pruned: int


def sessions_clear_expired() -> None:
    """Delete expired sessions through the session engine's own SessionStore.clear_expired()."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


def arena_sweep(*, now: datetime) -> SweepCounts:
    """Expire, then prune (a rater whose last battle just expired is prunable in the same run), then sessions."""
    expired = battles_expire(now=now)
    pruned = raters_prune(now=now)
    sessions_clear_expired()
    return SweepCounts(battles_expired=expired, raters_pruned=pruned)
