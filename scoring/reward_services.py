"""Reward-model writes: register and activate versions, score clips into ClipScore, rescore in batches with progress.

Importing this module never imports torch: the functions that run the model import scoring.reward lazily, and only
Celery workers and management commands call them. Web processes call the cheap ones (register, activate).
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from arena.models import Clip
from config.errors import Conflict, InvalidInput
from config.oncommit import enqueue_on_commit
from scoring.models import ClipScore, RewardModelVersion
from scoring.reward_selectors import clips_unscored_ids, version_active

if TYPE_CHECKING:
    from scoring.reward.interface import RewardModel

logger = logging.getLogger(__name__)

RESCORE_BATCH = 32
BUNDLED_NAME_PREFIX = "bundled"


class CheckpointMissing(InvalidInput):
    code = "checkpoint_missing"
    default_message = "The reward model checkpoint does not exist."


class VersionNotReady(Conflict):
    code = "reward_model_not_ready"
    default_message = "This reward model version has not finished training, so it cannot be activated."


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
    from scoring.reward_tasks import agreement_recompute_task, version_rescore_task

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
        enqueue_on_commit(version_rescore_task, target.pk)
        enqueue_on_commit(agreement_recompute_task, target.pk)
    logger.info("reward model version %s activated", target.name)
    return target


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


# ---------------------------------------------------------------------------------------------------------------
# Scoring


_MODELS: dict[tuple[str, str, str], RewardModel] = {}


def reward_model_load(*, version: RewardModelVersion) -> RewardModel:
    """The version's model, loaded once per worker process (torch is imported here, never at module import)."""
    key = (version.class_path, version.path, version.sha256)
    model = _MODELS.get(key)
    if model is None:
        from scoring.reward.interface import load_reward_model

        model = load_reward_model(version.class_path, Path(version.path))
        _MODELS.clear()  # one model in memory at a time: workers switch versions rarely
        _MODELS[key] = model
    return model


@contextmanager
def stored_file_path(name: str | None) -> Iterator[Path]:
    """A filesystem path for a stored file: its own path on local storage, a temporary copy on object storage."""
    if not name:
        raise FileNotFoundError("the stored file has no name")
    try:
        local = default_storage.path(name)
    except NotImplementedError:
        local = None
    if local is not None:
        yield Path(local)
        return
    suffix = Path(name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle, default_storage.open(name, "rb") as stored:
        for block in iter(lambda: stored.read(1 << 20), b""):
            handle.write(block)
        handle.flush()
        yield Path(handle.name)


def clips_score(*, version: RewardModelVersion, clip_ids: Sequence[int]) -> int:
    """Score the clips with `version` on every axis it has and store the scores (replacing older ones); returns count.

    The original upload is scored, not the loudness-normalised delivery copy: the model sees what the system made.
    A clip whose file cannot be read is logged and skipped, so one bad file does not stop a batch.
    """
    clips = list(Clip.objects.filter(id__in=list(clip_ids)).select_related("prompt").order_by("id"))
    if not clips:
        return 0
    model = reward_model_load(version=version)
    scored: list[tuple[Clip, dict[str, float]]] = []
    with ExitStack() as stack:
        inputs = [_clip_input(clip, stack) for clip in clips]
        try:
            by_axis = model.score(inputs)
            scored = [(clip, {axis: float(values[i]) for axis, values in by_axis.items()}) for i, clip in
                      enumerate(clips)]
        except (ValueError, OSError, RuntimeError):
            # One unreadable file fails the whole batch: score the clips one by one to find and skip it.
            for clip, one in zip(clips, inputs, strict=True):
                try:
                    single = model.score([one])
                except (ValueError, OSError, RuntimeError) as exc:
                    logger.warning("clip %s could not be scored by %s: %s", clip.public_id, version.name, exc)
                    continue
                scored.append((clip, {axis: float(values[0]) for axis, values in single.items()}))
    rows = [
        ClipScore(version=version, clip=clip, axis=axis, score=value)
        for clip, values in scored
        for axis, value in values.items()
    ]
    ClipScore.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["version", "clip", "axis"],
        update_fields=["score", "computed_at"],
    )
    return len(scored)


def _clip_input(clip: Clip, stack: ExitStack) -> Any:
    from scoring.reward.interface import ClipInput

    reference = None
    if clip.prompt.reference_audio:
        reference = stack.enter_context(stored_file_path(clip.prompt.reference_audio.name))
    return ClipInput(
        audio=stack.enter_context(stored_file_path(clip.original.name)),
        prompt_text=clip.prompt.text or None,
        lyrics=clip.prompt.lyrics or None,
        reference=reference,
    )


def version_rescore(
    *,
    version: RewardModelVersion,
    batch_size: int = RESCORE_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Score every active clip the version has not scored yet, batch by batch, recording progress on the version.

    Resumable and idempotent: clips already scored by this version are skipped, so a redelivered task continues.
    """
    pending = clips_unscored_ids(version=version)
    total = len(pending)
    done = 0
    started = timezone.now().isoformat()
    version_progress_record(version_id=version.pk, kind="rescore", status="running", done=0, total=total,
                            started_at=started)
    for start in range(0, total, batch_size):
        batch = pending[start : start + batch_size]
        clips_score(version=version, clip_ids=batch)
        done += len(batch)
        version_progress_record(version_id=version.pk, kind="rescore", done=done)
        if progress is not None:
            progress(done, total)
    version_progress_record(
        version_id=version.pk, kind="rescore", status="done", done=done, finished_at=timezone.now().isoformat()
    )
    return done
