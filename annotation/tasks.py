"""Celery tasks of annotation: thin shells over its services."""
from __future__ import annotations

from celery import shared_task

from annotation.assignment import leases_expire


@shared_task(name="annotation.tasks.leases_expire")
def leases_expire_task() -> int:
    """Mark campaign leases past their time expired (beat, every EARSHOT_LEASE_SWEEP_SECONDS)."""
    return leases_expire()
