"""Reward-model writes that web processes make: register and activate versions, record progress, queue work.

Nothing here runs the model or imports torch (lint checks it): scoring lives in reward.inference, which only Celery
workers and management commands import; this module queues their tasks by name.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from core.oncommit import enqueue_on_commit, task_by_name
from reward.errors import CheckpointMissing, VersionNotReady
from reward.jobs import AGREEMENT_TASK, RESCORE_TASK
from reward.models import RewardModelVersion
from reward.selectors import version_active

logger = logging.getLogger(__name__)

BUNDLED_NAME_PREFIX = "bundled"


# ---------------------------------------------------------------------------------------------------------------
# Versions


def checkpoint_digest(*, path: Path) -> str:
    """sha256 over a checkpoint file, or over every file of a checkpoint folder (names and bytes, in name order)."""
    digest = hashlib.sha256()
    if path.is_file():
        files = [path]
        root = path.parent
    elif path.is_dir():
        files = sorted(item for item in path.rglob("*") if item.is_file())
        root = path
    else:
        raise CheckpointMissing(f"No reward model checkpoint at {path}.")
    if not files:
        raise CheckpointMissing(f"The checkpoint folder {path} is empty.")
    for item in files:
        digest.update(item.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        with item.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def version_register(
    *,
    name: str,
    class_path: str,
    path: str | Path,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> RewardModelVersion:
    """Record a trained checkpoint on disk as a new, inactive version (its sha256 taken now, so swaps show)."""
    location = Path(path)
    if RewardModelVersion.objects.filter(name=name).exists():
        raise Conflict(f"A reward model version named {name!r} already exists.")
    return RewardModelVersion.objects.create(
        name=name,
        class_path=class_path,
        path=str(location),
        sha256=checkpoint_digest(path=location),
        config=config or {},
        metrics=metrics or {},
    )


def version_is_ready(*, version: RewardModelVersion) -> bool:
    training = (version.metrics or {}).get("training", {})
    return bool(version.sha256) and training.get("status", "done") == "done"


def version_activate(*, version: RewardModelVersion) -> RewardModelVersion:
    """Make `version` the one active version; on commit, rescore every clip with it and recompute agreement."""
    with transaction.atomic():
        # Lock every version row in id order, so two concurrent activations serialise instead of deadlocking.
        locked = {row.pk: row for row in RewardModelVersion.objects.select_for_update().order_by("id")}
        target = locked.get(version.pk)
        if target is None:
            raise InvalidInput(f"Reward model version {version.pk} no longer exists.")
        if not version_is_ready(version=target):
            raise VersionNotReady(f"{target.name} has not finished training.")
        if target.active:
            return target
        RewardModelVersion.objects.filter(active=True).update(active=False)
        target.active = True
        metrics = dict(target.metrics or {})
        metrics["rescore"] = {"status": "queued", "done": 0, "total": None, "queued_at": timezone.now().isoformat()}
        target.metrics = metrics
        target.save(update_fields=["active", "metrics"])
        enqueue_on_commit(task_by_name(RESCORE_TASK), target.pk)
        enqueue_on_commit(task_by_name(AGREEMENT_TASK), target.pk)
    logger.info("reward model version %s activated", target.name)
    return target


def version_rescore_queue(*, version: RewardModelVersion) -> None:
    """Once the current transaction commits, have a worker score the clips this version has not scored yet."""
    enqueue_on_commit(task_by_name(RESCORE_TASK), version.pk)


def reward_model_ensure_default() -> RewardModelVersion | None:
    """Register the bundled checkpoint (settings) and make it active when no version is active; idempotent.

    Returns the active version, or None when none is active and the bundled checkpoint is not on disk.
    """
    active = version_active()
    if active is not None:
        return active
    path = Path(settings.EARSHOT_REWARD_MODEL_PATH or "")
    class_path = settings.EARSHOT_REWARD_MODEL_CLASS or ""
    try:
        digest = checkpoint_digest(path=path)
    except CheckpointMissing:
        logger.warning("no bundled reward model checkpoint at %s: no version registered", path)
        return None
    version = RewardModelVersion.objects.filter(class_path=class_path, path=str(path), sha256=digest).first()
    if version is None:
        name = f"{BUNDLED_NAME_PREFIX}-{digest[:12]}"
        version, _ = RewardModelVersion.objects.get_or_create(
            name=name,
            defaults={
                "class_path": class_path,
                "path": str(path),
                "sha256": digest,
                "config": {"source": "bundled", "path": str(path)},
                "metrics": _bundled_metrics(path),
            },
        )
    return version_activate(version=version)


def _bundled_metrics(path: Path) -> dict[str, Any]:
    """Held-out figures shipped beside the bundled weights (metrics.json), when there are any."""
    import json

    candidate = (path if path.is_dir() else path.parent) / "metrics.json"
    if not candidate.is_file():
        return {}
    try:
        loaded = json.loads(candidate.read_text())
    except (OSError, ValueError):
        return {}
    return {"held_out": loaded} if isinstance(loaded, dict) else {}


def version_progress_record(*, version_id: int, kind: str, **fields: Any) -> None:
    """Merge `fields` into the version's metrics[kind] (training or rescore progress) in its own short transaction."""
    with transaction.atomic():
        version = RewardModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None:
            return
        metrics = dict(version.metrics or {})
        entry = dict(metrics.get(kind) or {})
        entry.update(fields)
        entry["updated_at"] = timezone.now().isoformat()
        metrics[kind] = entry
        version.metrics = metrics
        version.save(update_fields=["metrics"])
