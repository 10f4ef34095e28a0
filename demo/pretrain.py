"""Stage 1 of the bundled reward model on music from demo/synth.py (random effects and mastering)
against degraded copies of itself; `make reward-model` runs it, then stage 2 on the demo's votes.

    python -m demo.pretrain --out /tmp/stage1 --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from demo.synth import random_spec, render, spec_prompt_text
from reward.ml.audio import FrontEndConfig
from reward.ml.checkpoint import checkpoint_save
from reward.ml.network import RewardNetwork, parameter_count
from reward.ml.recordings import excerpts_take, tracks_load
from reward.ml.train import (
    PretrainSettings,
    Progress,
    SourceClip,
    TrainResult,
    pretrain_set_make,
    reward_pretrain,
    seed_everything,
)

VERSION = "bundled-stage1-v1"


def synth_sources(
    *, count: int, seconds: float, sample_rate: int, seed: int, progress: Progress | None = None
) -> list[SourceClip]:
    """Render `count` random pieces (mono mixdown) with their prompts; every spec draws its own
    reverb, EQ tilt, compression and stereo width. Reports stage "render" to `progress`."""
    rng = np.random.default_rng(seed)
    sources = []
    for index in range(count):
        spec = random_spec(rng, duration_s=seconds)
        stereo = render(spec, sample_rate=sample_rate, seed=seed * 100_003 + index)
        mono = stereo.mean(axis=1)
        sources.append(SourceClip(samples=mono, sample_rate=sample_rate, prompt_text=spec_prompt_text(spec)))
        if progress is not None:
            progress("render", index + 1, count, {})
    return sources


def _printer(stage: str, done: int, total: int, figures: Mapping[str, float]) -> None:
    if stage == "render" and done % 25 and done != total:
        return
    if stage == "pretrain" and done % 100 and done != total:
        return
    if stage == "pairs" and done % 500 and done != total:
        return
    shown = " ".join(f"{key}={value}" for key, value in figures.items())
    print(f"{stage} {done}/{total} {shown}", file=sys.stderr, flush=True)


def pretrain_parser() -> argparse.ArgumentParser:
    """The stage-1 options and their defaults (shared with `manage.py build_reward_model`)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pieces", type=int, default=200, help="synthesised training pieces")
    parser.add_argument("--validation-pieces", type=int, default=24)
    parser.add_argument("--piece-seconds", type=float, default=8.0)
    parser.add_argument("--render-rate", type=int, default=32_000, help="sample rate the pieces are rendered at")
    parser.add_argument("--real-per-track", type=int, default=4,
                        help="excerpts of each real training track (reward/ml/recordings.py; 0: none)")
    parser.add_argument("--real-seconds", type=float, default=8.0, help="length of each real excerpt")
    parser.add_argument("--pairs", type=int, default=5000, help="stage-1 pairs drawn from the training pieces")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch-pairs", type=int, default=16)
    parser.add_argument("--alignment-pairs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--cross-source-weight", type=float, default=PretrainSettings.cross_source_weight,
                        help="weight of clean-vs-damaged pairs across pieces")
    parser.add_argument("--content-tie-weight", type=float, default=PretrainSettings.content_tie_weight,
                        help="weight of clean-vs-clean pairs across pieces, scored as ties")
    parser.add_argument("--penalty-alone-weight", type=float, default=PretrainSettings.penalty_alone_weight,
                        help="weight of the quality pairs ranked by the artefact penalty alone (0: left out)")
    parser.add_argument("--penalty-learning-rate-factor", type=float,
                        default=PretrainSettings.penalty_learning_rate_factor,
                        help="the artefact penalty's learning rate as a multiple of --learning-rate")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--workers", type=int, default=2, help="processes that make the pairs")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    return parser


def pretrain_run(
    args: argparse.Namespace, *, command: str, progress: Progress | None = None
) -> tuple[TrainResult, dict[str, Any]]:
    """Stage 1 with the options of `pretrain_parser`: the trained network (on its device) and the training summary
    to store in the checkpoint (data, settings, seconds per step)."""
    torch.set_num_threads(args.threads)
    seed_everything(seed=args.seed)
    started = time.perf_counter()
    config = FrontEndConfig()
    pieces = synth_sources(
        count=args.pieces + args.validation_pieces, seconds=args.piece_seconds,
        sample_rate=args.render_rate, seed=args.seed, progress=progress,
    )
    train_pieces, validation_pieces = pieces[: args.pieces], pieces[args.pieces :]
    # Real recordings of the train split (never the test split, never singularity-music): no prompt, so they take part
    # in the quality pairs, not in the prompt-alignment pairs.
    real = excerpts_take(tracks=tracks_load(split="train"), per_track=args.real_per_track, seconds=args.real_seconds,
                         sample_rate=config.sample_rate) if args.real_per_track > 0 else []
    train_pieces = train_pieces + [SourceClip(samples=item.samples, sample_rate=item.sample_rate) for item in real]
    rendered = time.perf_counter()
    data = pretrain_set_make(
        sources=train_pieces, pairs=args.pairs, config=config, seed=args.seed, workers=args.workers, progress=progress,
        mix="real",
    )
    validation = pretrain_set_make(
        sources=validation_pieces, pairs=max(len(validation_pieces) * 8, 1), config=config, seed=args.seed + 1,
        workers=args.workers, mix="real",
    )
    prepared = time.perf_counter()
    model = RewardNetwork(front_end=config)
    settings = PretrainSettings(
        steps=args.steps, batch_pairs=args.batch_pairs, alignment_pairs=args.alignment_pairs,
        learning_rate=args.learning_rate, seed=args.seed, cross_source_weight=args.cross_source_weight,
        content_tie_weight=args.content_tie_weight, penalty_alone_weight=args.penalty_alone_weight,
        penalty_learning_rate_factor=args.penalty_learning_rate_factor,
    )
    result = reward_pretrain(
        model=model, data=data, settings=settings, validation=validation,
        num_threads=args.threads, device=args.device, progress=progress,
    )
    finished = time.perf_counter()
    training: dict[str, Any] = {
        "command": command,
        "seed": args.seed,
        "data": (
            f"stage 1: {args.pieces} pieces of {args.piece_seconds:g} s from demo/synth.py (random specs, "
            f"effects and mastering) rendered at {args.render_rate} Hz, {args.pairs} pseudo-preference pairs "
            "(clean vs randomly degraded or chained degradations, or milder vs harsher; also clean vs damaged and "
            "clean vs clean across pieces) plus prompt and reference alignment pairs; "
            f"{len(real)} excerpts of {args.real_seconds:g} s of {len({item.track.key for item in real})} real "
            f"recordings (train split of {', '.join(sorted({item.track.package for item in real})) or 'none'}) in "
            "the quality pairs; no votes"
        ),
        "real_excerpts": len(real),
        "pieces": args.pieces,
        "validation_pieces": args.validation_pieces,
        "pairs": args.pairs,
        "settings": vars(settings),
        "damage_mix": "real",
        "seconds": {
            "render": round(rendered - started, 1),
            "pairs": round(prepared - rendered, 1),
            "train": round(finished - prepared, 1),
            "total": round(finished - started, 1),
        },
        "threads": args.threads,
    }
    return result, training


def main(argv: list[str] | None = None) -> int:
    args = pretrain_parser().parse_args(argv)
    command = "python -m demo.pretrain " + " ".join(sys.argv[1:] if argv is None else argv)
    result, training = pretrain_run(args, command=command, progress=_printer)
    info = checkpoint_save(
        model=result.model.to("cpu"), directory=args.out, version=VERSION, training=training, metrics=result.metrics
    )
    summary = {
        "out": str(args.out),
        "parameters": parameter_count(model=result.model),
        "weights_bytes": info.config["weights"]["bytes"],
        "sha256": info.sha256,
        "metrics": result.metrics,
        "seconds": training["seconds"],
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
