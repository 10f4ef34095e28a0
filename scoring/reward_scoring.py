"""Queueing of reward-model scoring for new clips; importable from web processes (it never imports torch)."""
from __future__ import annotations

from collections.abc import Sequence

from celery import Signature

from config.oncommit import enqueue_on_commit, enqueue_once_on_commit


def clip_scoring_queue(*, clip_ids: Sequence[int]) -> None:
    """Once the current transaction commits, have a Celery worker score these clips with the active version.

    Queued even when no version is active yet: the task then does nothing, and activating a version later scores
    every clip anyway. Checking here instead would race with an activation committing at the same moment.
    """
    from scoring.reward_tasks import clips_score_task

    ids = sorted({int(clip_id) for clip_id in clip_ids})
    if ids:
        enqueue_on_commit(clips_score_task, ids)


AGREEMENT_QUEUED_KEY = "scoring:agreement:queued"


def agreement_recompute_job() -> tuple[str, Signature]:
    """The (mark, task) of a debounced agreement recompute, for enqueue_once_on_commit."""
    from django.conf import settings

    from scoring.reward_tasks import agreement_recompute_task

    return AGREEMENT_QUEUED_KEY, agreement_recompute_task.s().set(countdown=settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS)


def agreement_recompute_request() -> None:
    """Votes arrived: after commit, queue one agreement recompute that waits out the debounce window.

    Requests while one is already waiting add none (its mark in the cache says so); the task clears the mark
    before it reads, so it counts every vote committed by then. The periodic beat run catches what a lost message
    missed.
    """
    from django.conf import settings

    hold = settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS + settings.EARSHOT_RECOMPUTE_STALE_SECONDS
    enqueue_once_on_commit([agreement_recompute_job()], hold_seconds=hold)
