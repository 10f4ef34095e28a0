"""Celery tasks of the arena: thin shells over arena.services and the ingest.

Web code queues them by name (arena.services.uploads) and never imports this module: the ingest runs torch.
"""
from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from arena.ingest import clip_upload_process, prompt_reference_store
from arena.services.sweep import arena_sweep as arena_sweep_run


@shared_task(name="arena.tasks.arena_sweep", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def arena_sweep() -> dict[str, int]:
    """Beat's periodic sweep (EARSHOT_SWEEP_SECONDS): expired battles, idle anonymous raters, expired sessions."""
    return asdict(arena_sweep_run(now=timezone.now()))


@shared_task(name="arena.tasks.clip_upload_task", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3)
def clip_upload_task(upload_id: int) -> str | None:
    """Import an admin's staged upload and record the outcome on its job; a redelivery of a finished one does
    nothing."""
    upload = clip_upload_process(upload_id=upload_id)
    return upload.status if upload is not None else None


@shared_task(name="arena.tasks.prompt_reference_store_task", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3)
def prompt_reference_store_task(prompt_id: int, staged: str, name: str = "") -> bool:
    """Encode a prompt's staged reference audio and store it as the prompt's reference."""
    return prompt_reference_store(prompt_id=prompt_id, staged=staged, name=name) is not None
