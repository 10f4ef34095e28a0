"""Training a reward-model version from the platform's data: stage 1 on the catalogue's clips against degraded
copies of themselves, stage 2 on people's votes; the result is saved as a checkpoint and registered as a version.

Called by `manage.py train_reward_model` and the train task; torch is imported lazily, only when training runs.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from arena.models import Clip, Vote
from core.errors import Conflict, InvalidInput
from core.progress import Progress
from reward.errors import NotEnoughData
from reward.inference import stored_file_path
from reward.models import RewardModelVersion
from reward.selectors import AXIS_COLUMNS, version_active
from reward.services import checkpoint_digest, version_activate, version_progress_record

logger = logging.getLogger(__name__)

BUNDLED_CLASS_PATH = "reward.ml.interface.BundledRewardModel"
STAGES = ("pretrain", "finetune", "both")
# Progress is written to the version row at most this often, so a fast loop does not hammer the database.
PROGRESS_WRITE_SECONDS = 2.0


def _training_version_start(
    *, stage: str, seed: int, out_dir: str | None, budget: dict[str, Any]
) -> RewardModelVersion:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = f"trained-{stage}-{stamp}-seed{seed}"
    suffix = 1
    while RewardModelVersion.objects.filter(name=name).exists():
        suffix += 1
        name = f"trained-{stage}-{stamp}-seed{seed}-{suffix}"
    directory = Path(out_dir) if out_dir else Path(settings.DATA_DIR) / "reward_models" / name
    if directory.exists() and any(directory.iterdir()):
        raise Conflict(f"{directory} is not empty: choose a new --out folder for the checkpoint.")
    return RewardModelVersion.objects.create(
        name=name,
        class_path=BUNDLED_CLASS_PATH,
        path=str(directory),
        sha256="",
        config={"stage": stage, "seed": seed, "budget": budget},
        metrics={"training": {"status": "running", "stage": stage, "done": 0, "total": None,
                              "started_at": timezone.now().isoformat()}},
    )


def _vote_records(*, stack: ExitStack) -> list[Any]:
    """Every vote as a VoteRecord: per axis its outcome (ties kept as 1/2, both_bad and blanks left out), the clips'
    original files, the prompt text, lyrics and reference audio, grouped by prompt for the held-out split."""
    return [record for record, _, _ in vote_records_with_systems(stack=stack)]


def vote_records_with_systems(*, stack: ExitStack) -> list[tuple[Any, str, str]]:
    """As `_vote_records`, each record with the slugs of the systems on sides A and B (for the demo's true model);
    the stored files stay open until `stack` closes."""
    from reward.ml.train import VoteRecord

    records = []
    votes = Vote.objects.select_related(
        "battle__clip_a__system", "battle__clip_b__system", "prompt"
    ).order_by("id")
    paths: dict[str, Path] = {}

    def local(name: str | None) -> Path:
        if not name:
            raise NotEnoughData("a voted clip has no stored file")
        if name not in paths:
            paths[name] = stack.enter_context(stored_file_path(name))
        return paths[name]

    for vote in votes.iterator(chunk_size=2000):
        outcomes = {}
        for axis, column in AXIS_COLUMNS.items():
            value = getattr(vote, column)
            if value in {"a", "b", "tie"}:
                outcomes[axis] = value
        if not outcomes:
            continue
        prompt = vote.prompt
        record = VoteRecord(
            clip_a=local(vote.battle.clip_a.original.name),
            clip_b=local(vote.battle.clip_b.original.name),
            outcomes=outcomes,
            prompt_text=prompt.text or None,
            lyrics=prompt.lyrics or None,
            reference=local(prompt.reference_audio.name) if prompt.reference_audio else None,
            group=f"prompt-{prompt.pk}",
        )
        records.append((record, vote.battle.clip_a.system.slug, vote.battle.clip_b.system.slug))
    return records


def _pretrain_sources(*, stack: ExitStack) -> list[Any]:
    """The catalogue's active clips as clean stage-1 material (mono, at their own rate), with their prompts."""
    from reward.ml.audio import AudioDecodeError, audio_decode, audio_to_mono
    from reward.ml.train import SourceClip

    sources = []
    for clip in Clip.objects.filter(active=True).select_related("prompt").order_by("id"):
        path = stack.enter_context(stored_file_path(clip.original.name))
        try:
            samples, rate = audio_decode(path=path)
        except AudioDecodeError as exc:
            logger.warning("clip %s left out of pretraining: %s", clip.public_id, exc)
            continue
        sources.append(SourceClip(samples=audio_to_mono(samples=samples), sample_rate=rate,
                                  prompt_text=clip.prompt.text or None))
    return sources


def _starting_network(stage: str) -> tuple[Any, str]:
    """Fine-tuning starts from the active version when it is a bundled-format checkpoint, else the bundled weights;
    pretraining (and a missing checkpoint) starts from a fresh network."""
    from reward.ml.checkpoint import CheckpointError, checkpoint_load
    from reward.ml.network import RewardNetwork

    if stage != "finetune":
        return RewardNetwork(), "fresh network"
    candidates: list[Path] = []
    active = version_active()
    if active is not None and active.class_path == BUNDLED_CLASS_PATH:
        candidates.append(Path(active.path))
    if settings.EARSHOT_REWARD_MODEL_PATH:
        candidates.append(Path(settings.EARSHOT_REWARD_MODEL_PATH))
    for path in candidates:
        try:
            network, info = checkpoint_load(path=path)
        except CheckpointError as exc:
            logger.warning("cannot start fine-tuning from %s: %s", path, exc)
            continue
        return network, f"checkpoint {path} (version {info.version or 'unnamed'})"
    logger.warning("no checkpoint to fine-tune from: starting from a fresh network")
    return RewardNetwork(), "fresh network (no checkpoint found)"


def _progress_recorder(version_id: int, outer: Progress | None) -> Progress:
    last_write = [0.0]

    def record(stage: str, done: int, total: int, figures: Mapping[str, float]) -> None:
        now = time.monotonic()
        if done >= total or now - last_write[0] >= PROGRESS_WRITE_SECONDS:
            last_write[0] = now
            version_progress_record(
                version_id=version_id, kind="training", step=stage, done=done, total=total,
                figures={key: float(value) for key, value in figures.items()},
            )
        if outer is not None:
            outer(stage, done, total, figures)

    return record


def _budget_int(budget: Mapping[str, Any], key: str, default: int) -> int:
    value = budget.get(key)
    return default if value is None else int(value)


def reward_model_train(
    *,
    stage: str = "finetune",
    seed: int = 0,
    activate: bool = False,
    out_dir: str | None = None,
    budget: Mapping[str, Any] | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
) -> RewardModelVersion:
    """Train, evaluate on votes held out by prompt, save a checkpoint and register it as a version (progress and
    figures are written on the version row as training goes); with `activate`, make it the active version.

    `budget` may set pretrain_steps, pretrain_pairs, batch_pairs, epochs, batch_size, patience and threads.
    """
    if stage not in STAGES:
        raise InvalidInput(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    budget = dict(budget or {})
    version = _training_version_start(stage=stage, seed=seed, out_dir=out_dir, budget=budget)
    record = _progress_recorder(version.pk, progress)
    try:
        metrics = _train(version=version, stage=stage, seed=seed, budget=budget, device=device, progress=record)
    except Exception as exc:
        version_progress_record(version_id=version.pk, kind="training", status="failed", error=str(exc)[:2000],
                                finished_at=timezone.now().isoformat())
        raise
    with transaction.atomic():
        version = RewardModelVersion.objects.select_for_update().get(pk=version.pk)
        version.sha256 = checkpoint_digest(path=Path(version.path))
        merged = dict(version.metrics or {})
        merged.update(metrics)
        training = dict(merged.get("training") or {})
        training.update(status="done", finished_at=timezone.now().isoformat())
        merged["training"] = training
        version.metrics = merged
        version.save(update_fields=["sha256", "metrics"])
    if activate:
        version = version_activate(version=version)
    return version


def _train(
    *, version: RewardModelVersion, stage: str, seed: int, budget: Mapping[str, Any], device: str, progress: Progress
) -> dict[str, Any]:
    import torch

    from reward.ml import train as training
    from reward.ml.checkpoint import checkpoint_save

    threads = budget.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    network, started_from = _starting_network(stage)
    metrics: dict[str, Any] = {"started_from": started_from}
    with ExitStack() as stack:
        if stage in {"pretrain", "both"}:
            sources = _pretrain_sources(stack=stack)
            if not sources:
                raise NotEnoughData("Pretraining needs clips in the catalogue: import some first.")
            pairs = _budget_int(budget, "pretrain_pairs", 512)
            data = training.pretrain_set_make(sources=sources, pairs=pairs, config=network.front_end, seed=seed,
                                              progress=progress)
            validation = training.pretrain_set_make(
                sources=sources, pairs=max(8, pairs // 5), config=network.front_end, seed=seed + 1_000_003
            )
            defaults = training.PretrainSettings()
            result = training.reward_pretrain(
                model=network,
                data=data,
                validation=validation,
                settings=training.PretrainSettings(
                    steps=_budget_int(budget, "pretrain_steps", defaults.steps),
                    batch_pairs=_budget_int(budget, "batch_pairs", defaults.batch_pairs),
                    alignment_pairs=_budget_int(budget, "alignment_pairs", defaults.alignment_pairs),
                    seed=seed,
                ),
                device=device,
                progress=progress,
            )
            network = result.model
            metrics["pretrain"] = result.metrics
        if stage == "both":
            # As `make reward-model` builds the bundled one: votes fine-tune a composed overall axis (musicality plus
            # the prompt's part of alignment), which they cannot teach that a damage sounds better. Fine-tuning an
            # existing version keeps the overall axis it has.
            network.overall_compose()
        if stage in {"finetune", "both"}:
            records = _vote_records(stack=stack)
            if len(records) < 2:
                raise NotEnoughData(f"Fine-tuning needs votes: there are {len(records)} usable ones.")
            defaults_ft = training.FinetuneSettings()
            result = training.reward_finetune(
                model=network,
                records=records,
                settings=training.FinetuneSettings(
                    epochs=_budget_int(budget, "epochs", defaults_ft.epochs),
                    batch_size=_budget_int(budget, "batch_size", defaults_ft.batch_size),
                    patience=_budget_int(budget, "patience", defaults_ft.patience),
                    seed=seed,
                ),
                device=device,
                progress=progress,
            )
            network = result.model
            metrics["finetune"] = {key: value for key, value in result.metrics.items() if key != "holdout"}
            metrics["held_out"] = result.metrics.get("holdout", {})
            metrics["history"] = result.history[-50:]
        checkpoint_save(
            model=network.to("cpu"),
            directory=Path(version.path),
            version=version.name,
            training={"stage": stage, "seed": seed, "budget": dict(budget), "started_from": started_from},
            metrics={key: value for key, value in metrics.items() if key != "history"},
        )
    return metrics
