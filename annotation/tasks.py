"""Celery tasks of annotation: thin shells over its services."""
from __future__ import annotations

from celery import shared_task

from annotation.assignment import leases_expire


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
