"""Celery tasks of annotation: thin shells over its services."""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from annotation.assignment import leases_expire
from annotation.pairs import campaign_build
from core.errors import EarshotError

logger = logging.getLogger(__name__)


@shared_task(name="annotation.tasks.leases_expire")
def leases_expire_task() -> int:
    """Mark campaign leases past their time expired (beat, every EARSHOT_LEASE_SWEEP_SECONDS)."""
    return leases_expire()


@shared_task(name="annotation.tasks.campaign_build")
def campaign_build_task(campaign_id: int, options: dict[str, Any]) -> list[str]:
    """Build a campaign's pairs as the admin's "Build pairs…" action asked (options: campaign_build's keywords);
    returns the summary's lines. Idempotent: a redelivered message adds nothing."""
    try:
        summary = campaign_build(campaign=campaign_id, **options)
    except EarshotError as exc:
        logger.warning("campaign %s: build refused: %s", campaign_id, exc.message)
        return [f"refused: {exc.message}"]
    lines = summary.lines()
    logger.info("campaign %s built: %s", campaign_id, "; ".join(lines))
    return lines
