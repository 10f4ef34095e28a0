"""Building the bundled reward model from the demo, reproducibly: stage 1 on synthesised music, the demo catalogue
with its simulated votes, stage 2 on those votes, judged against the simulation's true preference model (which only
the demo knows); `manage.py build_reward_model` runs it."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.models import Vote
from core.progress import Progress
from demo import synth
from demo.errors import DatabaseNotEmpty, RealRecordingTargetsMissed
from demo.services import (
    DEMO_PROMPTS,
    DEMO_VOTES,
    CatalogueSummary,
    VoteSummary,
    demo_axis_strengths,
    demo_catalogue_seed,
    demo_votes_simulate,
)
from reward.errors import NotEnoughData
from reward.training import vote_records_with_systems

if TYPE_CHECKING:
    from reward.ml.checkpoint import CheckpointInfo

VERSION = "bundled-demo-v4"
COMMAND = "make reward-model"


def true_model_accuracy(*, votes: Sequence[tuple[Any, str, str]]) -> dict[str, dict[str, Any]]:
    """Per axis, the share of decisive votes won by the side the simulation's true preference model favours (the
    higher strength; half a point when both strengths are equal): the best accuracy any model can expect."""
    strengths = demo_axis_strengths()
    report: dict[str, dict[str, Any]] = {}
    for axis, table in strengths.items():
        points: list[float] = []
        for record, slug_a, slug_b in votes:
            outcome = record.outcomes.get(axis)
            if outcome not in {"a", "b"} or slug_a not in table or slug_b not in table:
                continue
            difference = table[slug_a] - table[slug_b]
            points.append(0.5 if difference == 0 else float((difference > 0) == (outcome == "a")))
        if points:
            report[axis] = {"decisive_pairs": len(points), "accuracy": round(sum(points) / len(points), 4)}
    return report


def _finetune_split(*, records: Sequence[Any], network: Any, settings_ft: Any) -> tuple[list[Any], list[Any]]:
    """(training, held-out) votes as reward_finetune splits them: the usable records, by prompt, same seed and
    fraction."""
    from reward.ml import train as training

    usable = [r for r in records if any(r.outcomes.get(axis) in training.OUTCOME_TARGET for axis in network.axes)]
    return training.records_split(records=usable, holdout_fraction=settings_ft.holdout_fraction,
                                  seed=settings_ft.seed)


def demo_finetune(
    *, network: Any, settings_ft: Any, progress: Progress | None = None
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Stage 2 on every vote in the database, then per axis on the votes held out by prompt: the network's accuracy
    (before and after) and that of the demo simulation's true preference model on the same votes.
    Returns (the fine-tuned network, its metrics, a summary of the votes used)."""
    from reward.ml import train as training

    with ExitStack() as stack:
        votes = vote_records_with_systems(stack=stack)
        if len(votes) < 2:
            raise NotEnoughData(f"Fine-tuning needs votes: there are {len(votes)} usable ones.")
        records = [record for record, _, _ in votes]
        _, held = _finetune_split(records=records, network=network, settings_ft=settings_ft)
        before = training.votes_evaluate(model=network, records=held)
        result = training.reward_finetune(model=network, records=records, settings=settings_ft, progress=progress)
    held_ids = {id(record) for record in held}
    held_votes = [row for row in votes if id(row[0]) in held_ids]
    metrics = dict(result.metrics)
    metrics["true_model_holdout"] = true_model_accuracy(votes=held_votes)
    metrics["holdout_before_finetune"] = before
    metrics["history"] = result.history
    summary = {
        "votes": len(votes),
        "prompts": len({record.group_key for record in records}),
        "clips": len({str(side) for record in records for side in (record.clip_a, record.clip_b)}),
        "systems": sorted({slug for _, a, b in votes for slug in (a, b)}),
    }
    return result.model, metrics, summary


@dataclass(frozen=True)
class BuildRecipe:
    """How the bundled checkpoint is built. Smaller budgets are for trying the recipe out; the bundled checkpoint
    uses the defaults (None: demo.pretrain's own default)."""

    seed: int = 0  # of both stages and of the demo
    threads: int = 2  # torch CPU threads
    pieces: int | None = None  # stage-1 pieces
    pairs: int | None = None  # stage-1 pairs
    steps: int | None = None  # stage-1 steps
    validation_pieces: int | None = None  # stage-1 pieces held out for its validation figures
    piece_seconds: float | None = None  # length of each stage-1 piece
    demo_prompts: int = DEMO_PROMPTS
    demo_votes: int = DEMO_VOTES
    demo_seconds: float | None = None  # length of each demo clip (None: 8-12 s, as seed_demo)
    # Stage 2 has few votes for the network's size. A fixed stage-1 audio encoder keeps what stage 1 learnt about
    # damage (the generalisation test) and trains faster; the heads learn the demo's tastes.
    epochs: int = 8
    learning_rate: float = 3e-4
    patience: int = 3
    train_encoder: bool = False
    # Stage 2 can replay this many stage-1 quality pairs (voted clips against damaged copies) per batch. Off: with
    # the composed overall axis and the quality floor below it only cost agreement with the demo's votes (and with
    # four per batch the second build with real music lost hum: NOTES.md).
    rehearsal_pairs: int = 0
    # ...drawn from the real mix (MP3, dropouts, mains buzz too), and the artefact penalty (hum and rumble among its
    # figures) stays as stage 1 set it: votes may re-weigh the heads, not teach that a damage is harmless.
    rehearsal_mix: str = "real"
    freeze_artefact_penalty: bool = True
    real_per_track: int | None = None  # stage-1 excerpts per real training track (None: demo.pretrain's)
    penalty_alone_weight: float | None = None  # stage 1's loss on the artefact penalty alone (None: demo.pretrain's)
    penalty_learning_rate_factor: float | None = None  # stage 1's learning rate for that penalty, as a multiple
    # The real-recording test (reward/ml/realtest.py): excerpts per test track, and whether a checkpoint that misses
    # its targets is still written (for trying a recipe out; the bundled checkpoint never is).
    real_test_per_track: int = 3
    allow_missed_targets: bool = False
    # Stage 2 starts by making overall a blend of musicality and the prompt's part of prompt alignment
    # (RewardNetwork.overall_compose), so that overall votes cannot teach that a damage sounds better.
    compose_overall: bool = True
    # After stage 2 the artefact penalty is raised (never lowered) until clean excerpts of the real training tracks
    # beat damaged copies by this margin (reward/ml/floor.py; None: no floor), from this many excerpts per track.
    floor_margin: float | None = 0.03
    floor_per_track: int = 4


@dataclass(frozen=True)
class BuiltModel:
    """What a build wrote and measured."""

    out: Path
    stage1_validation: dict[str, float]
    catalogue: CatalogueSummary
    votes: VoteSummary | None
    # Per axis on the held-out votes: the model's accuracy, the true preference model's, the stage-1 model's.
    held_out: dict[str, dict[str, Any]]
    # Per axis on every demo vote (as the agreement page counts them): accuracy and log-loss.
    all_votes: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    weights_bytes: int
    sha256: str
    # The real-recording damage table after stage 2 (reward/ml/realtest.py) and the targets it misses.
    real_recordings: dict[str, Any] | None = None
    targets_missed: tuple[str, ...] = ()



def reward_model_build(*, out: Path, recipe: BuildRecipe, progress: Progress | None = None) -> BuiltModel:
    """Stage 1 as `python -m demo.pretrain` (synthesised music against degraded copies), then the demo catalogue and
    its simulated votes, then stage 2 on those votes from the stage-1 network, evaluated on votes held out by prompt
    against the simulation's true preference model; the checkpoint replaces the one in `out` only once complete.
    Needs a database without votes. Stages report to `progress` (render, pairs, pretrain, demo clips, finetune)."""
    import torch

    from reward.ml.realtest import damage_table, damage_targets_missed, test_excerpts
    from reward.ml.train import FinetuneSettings

    if Vote.objects.exists():
        raise DatabaseNotEmpty()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    pretrained, stage1 = _stage1_train(out=out, recipe=recipe, progress=progress)
    seconds["stage1"] = round(time.perf_counter() - started, 1)

    mark = time.perf_counter()
    catalogue, votes_made = _demo_seed(recipe=recipe, progress=progress)
    seconds["seed_demo"] = round(time.perf_counter() - mark, 1)

    mark = time.perf_counter()
    torch.set_num_threads(recipe.threads)
    settings_ft = FinetuneSettings(
        epochs=recipe.epochs, learning_rate=recipe.learning_rate, patience=recipe.patience, seed=recipe.seed,
        freeze_audio_encoder=not recipe.train_encoder, rehearsal_pairs=recipe.rehearsal_pairs,
        rehearsal_mix=recipe.rehearsal_mix, freeze_artefact_penalty=recipe.freeze_artefact_penalty,
    )
    excerpts = test_excerpts(per_track=recipe.real_test_per_track)
    before = damage_table(network=pretrained.model.to("cpu"), excerpts=excerpts, seed=recipe.seed)
    seconds["real_test_stage1"] = before["seconds"]
    mark = time.perf_counter()
    stage1_network = pretrained.model.to("cpu")
    if recipe.compose_overall:
        stage1_network.overall_compose()
    network, stage2, votes = demo_finetune(network=stage1_network, settings_ft=settings_ft, progress=progress)
    seconds["stage2"] = round(time.perf_counter() - mark, 1)
    if recipe.floor_margin is not None or network.overall_blend is not None:
        mark = time.perf_counter()
        stage2["holdout_before_floor"] = stage2["holdout"]
        stage2.update(_after_stage2(network=network, recipe=recipe, settings_ft=settings_ft, progress=progress))
        seconds["quality_floor"] = round(time.perf_counter() - mark, 1)
    real = damage_table(network=network, excerpts=excerpts, seed=recipe.seed)
    seconds["real_test"] = real["seconds"]
    missed = damage_targets_missed(real)
    real["targets_missed"] = missed
    real["stage1"] = {key: before[key] for key in ("rows", "implementations", "families")}
    real["stage1"]["targets_missed"] = damage_targets_missed(before)
    seconds["total"] = round(time.perf_counter() - started, 1)
    held_out = _held_out_accuracy(stage2)
    training = _training_record(recipe=recipe, stage1=stage1, stage2=stage2, votes=votes, settings_ft=settings_ft,
                                seconds=seconds)
    metrics = _metrics_record(pretrained=pretrained.metrics, stage2=stage2, held_out=held_out)
    metrics["real_recordings"] = real
    if missed and not recipe.allow_missed_targets:
        refused = out.with_name(out.name + ".refused")
        _checkpoint_replace(network=network, out=refused, training=training, metrics=metrics)
        raise RealRecordingTargetsMissed(
            "The checkpoint misses its real-recording targets after stage 2, so it does not replace "
            f"{out}: {'; '.join(missed)}. It is kept at {refused} for inspection.", missed=missed)
    info = _checkpoint_replace(network=network, out=out, training=training, metrics=metrics)
    return BuiltModel(
        out=out,
        stage1_validation={k: v for k, v in pretrained.metrics.items() if k.startswith("validation_")},
        catalogue=catalogue,
        votes=votes_made,
        held_out=held_out,
        all_votes=metrics["all_votes"],
        seconds=seconds,
        weights_bytes=info.config["weights"]["bytes"],
        sha256=info.sha256,
        real_recordings=real,
        targets_missed=tuple(missed),
    )


def _after_stage2(
    *, network: Any, recipe: BuildRecipe, settings_ft: Any, progress: Progress | None
) -> dict[str, Any]:
    """The quality floor (reward/ml/floor.py: the artefact penalty raised until the real training tracks' clean
    excerpts beat damaged copies by the recipe's margin), then a composed overall axis's blend fitted again to the
    training votes (the floor moved musicality), then the held-out votes measured again; the reports."""
    from reward.ml import train as training
    from reward.ml.floor import FloorSettings, floor_pairs_make, penalty_floor_fit
    from reward.ml.realtest import EXCERPT_SECONDS, SAMPLE_RATE
    from reward.ml.recordings import excerpts_take, tracks_load

    reports: dict[str, Any] = {}
    if recipe.floor_margin is not None:
        settings = FloorSettings(margin=recipe.floor_margin, seed=recipe.seed)
        excerpts = excerpts_take(tracks=tracks_load(split="train"), per_track=recipe.floor_per_track,
                                 seconds=EXCERPT_SECONDS, sample_rate=SAMPLE_RATE)
        pairs = floor_pairs_make(network=network, excerpts=excerpts, settings=settings, progress=progress)
        reports["quality_floor"] = {**penalty_floor_fit(network=network, pairs=pairs, settings=settings),
                                    "excerpts": len(excerpts)}
    with ExitStack() as stack:
        records = [record for record, _, _ in vote_records_with_systems(stack=stack)]
        train, held = _finetune_split(records=records, network=network, settings_ft=settings_ft)
        if network.overall_blend is not None:
            reports["overall_blend"] = training.overall_blend_fit(model=network, records=train)
        reports["holdout"] = training.votes_evaluate(model=network, records=held)
        # As the agreement page counts it: every vote, the training ones too.
        reports["all_votes"] = training.votes_evaluate(model=network, records=records)
    return reports


def _stage1_train(*, out: Path, recipe: BuildRecipe, progress: Progress | None) -> tuple[Any, dict[str, Any]]:
    from demo.pretrain import pretrain_parser, pretrain_run

    options = {"pieces": recipe.pieces, "pairs": recipe.pairs, "steps": recipe.steps,
               "validation-pieces": recipe.validation_pieces, "piece-seconds": recipe.piece_seconds,
               "real-per-track": recipe.real_per_track, "penalty-alone-weight": recipe.penalty_alone_weight,
               "penalty-learning-rate-factor": recipe.penalty_learning_rate_factor}
    budget = [f"--{key}={value}" for key, value in options.items() if value is not None]
    args = pretrain_parser().parse_args(["--out", str(out), "--seed", str(recipe.seed),
                                         "--threads", str(recipe.threads), *budget])
    return pretrain_run(args, command=COMMAND, progress=progress)


def _demo_seed(*, recipe: BuildRecipe, progress: Progress | None) -> tuple[CatalogueSummary, VoteSummary | None]:
    """The demo catalogue and its votes, as `seed_demo --no-reward-model` makes them: the bundled model is what this
    build replaces, so scoring the demo with it would be wasted time (and it may not load into a changed network)."""
    total = len(synth.DEMO_SYSTEMS) * recipe.demo_prompts
    done = 0

    def clip_done() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("demo clips", done, total, {})

    catalogue = demo_catalogue_seed(seed=recipe.seed, prompts=recipe.demo_prompts, duration_s=recipe.demo_seconds,
                                    progress=clip_done)
    votes = demo_votes_simulate(seed=recipe.seed, votes=recipe.demo_votes) if recipe.demo_votes > 0 else None
    return catalogue, votes


def _held_out_accuracy(stage2: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        axis: {"model": figures.get("accuracy"), "true_model": stage2["true_model_holdout"].get(axis, {}).get(
            "accuracy"), "stage1_model": stage2["holdout_before_finetune"].get(axis, {}).get("accuracy"),
            "decisive_pairs": figures.get("decisive_pairs"), "log_loss": figures.get("log_loss")}
        for axis, figures in stage2["holdout"].items()
    }


def _training_record(
    *, recipe: BuildRecipe, stage1: dict[str, Any], stage2: dict[str, Any], votes: dict[str, Any], settings_ft: Any,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The checkpoint's "training" section: the command, the data of both stages, their settings and timings.
    Takes the stage-2 history out of `stage2`."""
    history = stage2.pop("history")
    return {
        "command": COMMAND,
        "seed": recipe.seed,
        "data": (
            f"{stage1['data'].replace('; no votes', '')}; stage 2: {votes['votes']} simulated votes "
            f"(manage.py seed_demo --seed {recipe.seed}: {len(votes['systems'])} demo systems x {votes['prompts']} "
            "prompts, Bradley-Terry on each system's true strengths with noisy raters), "
            f"{stage2['holdout_votes']} of them on {stage2['holdout_groups']} held-out prompts"
        ),
        "stage1": {key: value for key, value in stage1.items() if key not in {"command", "data"}},
        "stage2": {"settings": vars(settings_ft), "votes": votes, "history": history},
        "seconds": seconds,
    }


def _metrics_record(
    *, pretrained: dict[str, Any], stage2: dict[str, Any], held_out: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "stage": "finetune",
        "pretrain": pretrained,
        "finetune": {key: value for key, value in stage2.items()
                     if key not in {"holdout", "true_model_holdout", "holdout_before_finetune", "all_votes"}},
        # Every demo vote, the training ones too, as the agreement page counts them.
        "all_votes": stage2.get("all_votes", {}),
        "held_out": stage2["holdout"],
        "held_out_before_finetune": stage2["holdout_before_finetune"],
        "true_model_held_out": stage2["true_model_holdout"],
        "held_out_accuracy": held_out,
    }


def _checkpoint_replace(
    *, network: Any, out: Path, training: dict[str, Any], metrics: dict[str, Any]
) -> CheckpointInfo:
    """Write the checkpoint beside `out`, then swap it in file by file, so a failed run leaves `out` as it was."""
    from reward.ml.checkpoint import checkpoint_save

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        info = checkpoint_save(model=network.to("cpu"), directory=staging, version=VERSION, training=training,
                               metrics=metrics)
        out.mkdir(parents=True, exist_ok=True)
        for name in (info.config["weights"]["file"], "config.json"):
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info
