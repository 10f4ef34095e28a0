"""Celery tasks of scoring: thin shells over scoring.services that own their retries."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from scoring.errors import UnknownScope
from scoring.scopes import scopes_all, scopes_with_votes
from scoring.services import leaderboard_recompute_run, snapshots_prune

logger = logging.getLogger(__name__)


@shared_task(
    name="scoring.tasks.leaderboard_recompute",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def leaderboard_recompute(scope: str) -> str:
    """Recompute one scope's leaderboard under its single-flight claim; idempotent, so a redelivery is harmless."""
    try:
        outcome = leaderboard_recompute_run(scope=scope)
    except UnknownScope:
        # A scope that no longer exists (a campaign deleted while its task waited) has nothing to recompute.
        logger.warning("leaderboard recompute for unknown scope %r dropped", scope)
        return "unknown"
    return outcome.value


@shared_task(name="scoring.tasks.leaderboards_recompute_all")
def leaderboards_recompute_all() -> list[str]:
    """The periodic safety net: queue a recompute of every scope with votes, whatever was lost on the way.

    It also trims each scope's history to EARSHOT_LEADERBOARD_HISTORY_KEEP snapshots.
    """
    names = [scope.name for scope in scopes_with_votes()]
    for name in names:
        leaderboard_recompute.apply_async(args=(name,))
    for scope in scopes_all():
        snapshots_prune(scope=scope.name, keep=settings.EARSHOT_LEADERBOARD_HISTORY_KEEP)
    return names
