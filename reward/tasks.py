"""Celery tasks of the reward model: score new clips, rescore on activation, train, recompute agreement.

Only workers import this module's heavy dependencies, and only when a task runs: the torch-using code sits behind
lazy imports in reward.services and reward.training, so the web process can queue these tasks.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError

from core.oncommit import queued_mark_clear
from reward.jobs import AGREEMENT_QUEUED_KEY
from reward.models import RewardModelVersion

logger = logging.getLogger(__name__)


@shared_task(
    name="reward.tasks.clips_score_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def clips_score_task(clip_ids: list[int]) -> int:
    """Score these clips with the active version (none active: nothing to do, activation scores everything)."""
    from reward.inference import clips_score
    from reward.selectors import clips_unscored_ids, version_active

    version = version_active()
    if version is None:
        return 0
    # A redelivered task, or clips an activation's rescore already reached, need no second pass.
    pending = clips_unscored_ids(version=version, clip_ids=list(clip_ids))
    if not pending:
        return 0
    return clips_score(version=version, clip_ids=pending)


@shared_task(
    name="reward.tasks.version_rescore_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def version_rescore_task(version_id: int, batch_size: int | None = None) -> int:
    """Score every clip with the version, in batches, progress on the version; skipped if it was deactivated since."""
    from reward.inference import RESCORE_BATCH, version_rescore
    from reward.services import version_progress_record

    version = RewardModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return 0
    if not version.active:
        version_progress_record(version_id=version_id, kind="rescore", status="skipped",
                                reason="another version was activated before this rescore ran")
        return 0
    done = version_rescore(version=version, batch_size=batch_size or RESCORE_BATCH)
    agreement_recompute_task.apply_async(args=(version_id,))
    return done


@shared_task(name="reward.tasks.train_reward_model_task")
def train_reward_model_task(
    stage: str = "finetune",
    seed: int = 0,
    activate: bool = False,
    out_dir: str | None = None,
    budget: dict[str, Any] | None = None,
) -> int | None:
    """Train a version (progress recorded on its row while it trains); returns the new version's id."""
    from reward.training import reward_model_train

    version = reward_model_train(stage=stage, seed=seed, activate=activate, out_dir=out_dir, budget=budget or {})
    return version.pk if version is not None else None


@shared_task(
    name="reward.tasks.agreement_recompute_task",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def agreement_recompute_task(version_id: int | None = None, force: bool = False) -> int | None:
    """Recompute the agreement report of a version (the active one by default) if its votes or scores changed."""
    from reward.agreement import agreement_recompute

    queued_mark_clear(AGREEMENT_QUEUED_KEY)  # votes committed from now on queue another run
    version = RewardModelVersion.objects.filter(pk=version_id).first() if version_id is not None else None
    if version_id is not None and version is None:
        return None
    report = agreement_recompute(version=version, force=force)
    return report.pk if report is not None else None
