"""Queueing the reward model's Celery tasks by name, so web processes never import the tasks (or torch)."""
from __future__ import annotations

from collections.abc import Sequence

from celery import Signature

from core.oncommit import enqueue_on_commit, enqueue_once_on_commit, task_by_name

# Named rather than imported: reward.tasks imports this module, and the web process never imports the tasks.
SCORE_TASK = "reward.tasks.clips_score_task"
AGREEMENT_TASK = "reward.tasks.agreement_recompute_task"
RESCORE_TASK = "reward.tasks.version_rescore_task"


def clip_scoring_queue(*, clip_ids: Sequence[int]) -> None:
    """Once the current transaction commits, have a Celery worker score these clips with the active version.

    Queued even when no version is active yet: the task then does nothing, and activating a version later scores
    every clip anyway. Checking here instead would race with an activation committing at the same moment.
    """
    ids = sorted({int(clip_id) for clip_id in clip_ids})
    if ids:
        enqueue_on_commit(task_by_name(SCORE_TASK), ids)


AGREEMENT_QUEUED_KEY = "scoring:agreement:queued"


def agreement_recompute_job() -> tuple[str, Signature]:
    """The (mark, task) of a debounced agreement recompute, for enqueue_once_on_commit."""
    from django.conf import settings

    return AGREEMENT_QUEUED_KEY, task_by_name(AGREEMENT_TASK).set(countdown=settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS)


def agreement_recompute_request() -> None:
    """Votes arrived: after commit, queue one agreement recompute that waits out the debounce window.

    Requests while one is already waiting add none (its mark in the cache says so); the task clears the mark
    before it reads, so it counts every vote committed by then. The periodic beat run catches what a lost message
    missed.
    """
    from django.conf import settings

    hold = settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS + settings.EARSHOT_RECOMPUTE_STALE_SECONDS
    enqueue_once_on_commit([agreement_recompute_job()], hold_seconds=hold)
