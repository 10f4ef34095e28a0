"""Running the reward model: load a version once per worker, score clips into ClipScore, rescore with progress.

Only Celery workers and management commands import this module; torch is imported when a model is first loaded.
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.files.storage import default_storage
from django.utils import timezone

from arena.models import Clip
from reward.models import ClipScore, RewardModelVersion
from reward.selectors import clips_unscored_ids
from reward.services import version_progress_record

if TYPE_CHECKING:
    from reward.ml.interface import RewardModel

logger = logging.getLogger(__name__)

RESCORE_BATCH = 32

_MODELS: dict[tuple[str, str, str], RewardModel] = {}


def reward_model_load(*, version: RewardModelVersion) -> RewardModel:
    """The version's model, loaded once per worker process (torch is imported here, never at module import)."""
    key = (version.class_path, version.path, version.sha256)
    model = _MODELS.get(key)
    if model is None:
        from reward.ml.interface import load_reward_model

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
    from reward.ml.interface import ClipInput

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
