"""Live generation, the worker half: run one generation under its system's concurrency limit, put the audio
through the same ingest as imported clips (decode check, loudness, fingerprint-free delivery copy), and move the
requests waiting on it. Imports the ingest (torch): only Celery workers and commands import this module."""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from arena.errors import ClipRefused
from arena.generation.generators import GenerationJob, GeneratorFailed
from arena.generation.signature import DetailedPrompt
from arena.ingest import clip_import
from arena.models import Generation, GenerationRequest, System
from arena.services.generation import generation_request_advance, generator_of

logger = logging.getLogger(__name__)
STALE_GRACE_S = 60.0


@dataclass(frozen=True)
class Attempt:
    outcome: str  # done | failed | retry | wait | skip
    countdown: float = 0.0


def _stale_before(now: datetime, timeout_s: float) -> datetime:
    return now - timedelta(seconds=timeout_s + STALE_GRACE_S)


def generation_attempt(*, generation_id: int, now: datetime | None = None) -> Attempt:
    """One try of a generation. `wait`: the system runs as many as its config allows, come back shortly; `retry`:
    a transient failure with tries left; `skip`: someone else runs or ran it."""
    now = now or timezone.now()
    with transaction.atomic():
        generation = Generation.objects.select_for_update().select_related("prompt").filter(pk=generation_id).first()
        if generation is None or generation.status in (Generation.Status.DONE, Generation.Status.FAILED):
            return Attempt("skip")
        system = System.objects.select_for_update().get(pk=generation.system_id)
        generator = generator_of(system)
        if generator is None or not system.active:
            Generation.objects.filter(pk=generation.pk).update(
                status=Generation.Status.FAILED, reason="no_generator",
                message=f"system {system.name} has no usable generator now", finished_at=now)
            transaction.on_commit(lambda: _advance_waiting(generation_id))
            return Attempt("failed")
        timeout = generator.config.timeout_s
        if generation.status == Generation.Status.RUNNING and generation.started_at and \
                generation.started_at > _stale_before(now, timeout):
            return Attempt("skip")  # a redelivered message while another worker runs it
        running = Generation.objects.filter(
            system_id=system.pk, status=Generation.Status.RUNNING, started_at__gt=_stale_before(now, timeout)
        ).exclude(pk=generation.pk).count()
        if running >= generator.config.concurrency:
            return Attempt("wait", countdown=min(1.0, max(0.2, generator.expected_s / 4)))
        generation.status = Generation.Status.RUNNING
        generation.attempts += 1
        generation.started_at = now
        generation.save(update_fields=["status", "attempts", "started_at"])
    detailed = DetailedPrompt.from_json(generation.prompt_detailed)
    job = GenerationJob(prompt=detailed, duration_s=generator.duration_for(detailed), seed=generation.seed)
    try:
        audio = generator.generate(job)
        with tempfile.TemporaryDirectory(prefix="earshot-generation-") as folder:
            path = Path(folder) / f"generated{audio.suffix}"
            path.write_bytes(audio.data)
            clip, _ = clip_import(system=system, prompt=generation.prompt, path=path,
                                  original_name=f"generated/{system.slug}/{generation.key[:16]}{audio.suffix}")
    except GeneratorFailed as exc:
        if exc.transient and generation.attempts <= generator.config.retries:
            Generation.objects.filter(pk=generation.pk, status=Generation.Status.RUNNING).update(
                status=Generation.Status.QUEUED, reason=exc.reason, message=exc.message)
            return Attempt("retry", countdown=min(0.5 * 2 ** (generation.attempts - 1), 10.0))
        _finish_failed(generation, exc.reason, exc.message, timezone.now())
        return Attempt("failed")
    except ClipRefused as exc:
        _finish_failed(generation, exc.reason, exc.message, timezone.now())
        return Attempt("failed")
    except Exception as exc:  # anything else must still end the generation, or its listener waits for ever
        logger.exception("generation %s failed", generation.pk)
        _finish_failed(generation, "error", f"the generation failed ({type(exc).__name__})", timezone.now())
        return Attempt("failed")
    with transaction.atomic():
        Generation.objects.filter(pk=generation.pk).update(
            status=Generation.Status.DONE, clip=clip, reason="", message="", finished_at=timezone.now(),
            generation_ms=audio.generation_ms)
    _advance_waiting(generation.pk)
    return Attempt("done")


def _finish_failed(generation: Generation, reason: str, message: str, now: datetime) -> None:
    Generation.objects.filter(pk=generation.pk).update(
        status=Generation.Status.FAILED, reason=reason[:32], message=message, finished_at=now)
    _advance_waiting(generation.pk)


def _advance_waiting(generation_id: int) -> None:
    waiting = GenerationRequest.objects.filter(
        Q(generation_a_id=generation_id) | Q(generation_b_id=generation_id),
        status=GenerationRequest.Status.GENERATING,
    ).values_list("pk", flat=True)
    for request_id in list(waiting):
        generation_request_advance(request_id=request_id)


def generation_give_up(*, generation_id: int, message: str) -> None:
    """Fail a generation that waited too long for a free slot of its system."""
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is not None and generation.status == Generation.Status.QUEUED:
        _finish_failed(generation, "busy", message, timezone.now())
