"""Celery tasks of the arena: thin shells over arena.services."""
from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from arena.services.sweep import arena_sweep as arena_sweep_run


@shared_task(name="arena.tasks.arena_sweep", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def arena_sweep() -> dict[str, int]:
    """Beat's periodic sweep (EARSHOT_SWEEP_SECONDS): expired battles, idle anonymous raters, expired sessions."""
    return asdict(arena_sweep_run(now=timezone.now()))
