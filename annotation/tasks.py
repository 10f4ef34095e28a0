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


@shared_task(name="annotation.tasks.export_job_task", acks_late=True)
def export_job_task(public_id: str) -> str:
    """Run one queued preference export (annotation.export_jobs)."""
    from annotation.export_jobs import export_job_run

    return export_job_run(public_id=public_id).status


@shared_task(name="annotation.tasks.release_publish")
def release_publish_task() -> str:
    """The rolling public release (beat, every EARSHOT_RELEASE_SECONDS); nothing without EARSHOT_RELEASE_ROOT."""
    from annotation.export_jobs import release_publish

    export = release_publish()
    return export.status if export is not None else "skipped"

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
