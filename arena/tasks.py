"""Celery tasks of the arena: thin shells over arena.services and the ingest.

Web code queues them by name (arena.services.uploads) and never imports this module: the ingest runs torch.
"""
from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from arena.generation.run import generation_attempt, generation_give_up
from arena.ingest import clip_upload_process, prompt_reference_store
from arena.services.generation_pool import generation_pool_refill as pool_refill
from arena.services.generation_pool import generations_stale_resend
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


# Live generation: on a queue of its own (settings.EARSHOT_GENERATION_QUEUE), so a burst of prompts never holds
# up the votes' recomputes. A generation waits for a free slot of its system at most this many times.
GENERATION_MAX_WAITS = 1200


@shared_task(name="arena.tasks.generation_run", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3)
def generation_run(generation_id: int, waits: int = 0) -> str:
    """Run one generation (arena.generation.run); a transient failure comes back after its backoff, a generation
    whose system is at its concurrency limit comes back shortly."""
    attempt = generation_attempt(generation_id=generation_id)
    if attempt.outcome == "retry":
        generation_run.apply_async(args=(generation_id, waits), countdown=attempt.countdown)
    elif attempt.outcome == "wait":
        if waits >= GENERATION_MAX_WAITS:
            generation_give_up(generation_id=generation_id,
                               message="the system was busy with other generations for too long")
        else:
            generation_run.apply_async(args=(generation_id, waits + 1), countdown=attempt.countdown)
    return attempt.outcome


@shared_task(name="arena.tasks.generation_pool_refill", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3)
def generation_pool_refill() -> dict[str, int]:
    """Beat: keep EARSHOT_POOL_READY_PER_PAIR ready battles per system pair for bank prompts, and send again the
    generations a lost worker or message left behind."""
    return {"queued": pool_refill(), "resent": generations_stale_resend(now=timezone.now())}
