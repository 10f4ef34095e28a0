"""The arena's periodic sweep: expired battles marked, anonymous raters that never voted pruned, expired sessions
cleared, per-battle audio copies of ended battles deleted. Every part is idempotent, so a sweep run twice, or two
at once, does no harm."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from django.conf import settings

from arena.delivery import battle_copies_prune
from arena.services.battles import battles_expire
from arena.services.raters import raters_prune


@dataclass(frozen=True)
class SweepCounts:
    battles_expired: int
    raters_pruned: int
    copies_deleted: int


def sessions_clear_expired() -> None:
    """Delete expired sessions through the session engine's own SessionStore.clear_expired()."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


def arena_sweep(*, now: datetime) -> SweepCounts:
    """Expire, then prune (a rater whose last battle just expired is prunable in the same run), then sessions, then
    the front server's per-battle copies (written only with an audio hand-off configured)."""
    expired = battles_expire(now=now)
    pruned = raters_prune(now=now)
    sessions_clear_expired()
    copies = battle_copies_prune(now=now)
    return SweepCounts(battles_expired=expired, raters_pruned=pruned, copies_deleted=copies)
