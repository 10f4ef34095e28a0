"""`manage.py build_reward_model`: rebuild the bundled reward-model checkpoint from scratch, reproducibly: stage 1 on
synthesised music, the demo catalogue with its simulated votes, stage 2 on those votes; run it on an empty database."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from arena.models import Vote

VERSION = "bundled-demo-v3"
COMMAND = "make reward-model"


class Command(BaseCommand):
    help = (
        "Rebuild the bundled reward model: stage 1 as `python -m demo.pretrain` (synthesised music "
        "against degraded copies), then `seed_demo` (demo catalogue and simulated votes), then stage 2 on those votes "
        "from the stage-1 network, evaluated on votes held out by prompt against the simulation's true preference "
        "model. Needs an empty scratch database (`make reward-model` makes one). Writes --out (the bundled weights)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "reward" / "ml" / "weights"))
        parser.add_argument("--seed", type=int, default=0, help="seed of both stages and of the demo (default 0)")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
        # Smaller budgets are for trying the recipe out; the bundled checkpoint uses the defaults.
        parser.add_argument("--pieces", type=int, default=None, help="stage-1 pieces (pretrain_cli's default)")
        parser.add_argument("--pairs", type=int, default=None, help="stage-1 pairs (pretrain_cli's default)")
        parser.add_argument("--steps", type=int, default=None, help="stage-1 steps (pretrain_cli's default)")
        parser.add_argument("--demo-prompts", type=int, default=None, help="seed_demo --prompts (its default)")
        parser.add_argument("--demo-votes", type=int, default=None, help="seed_demo --votes (its default)")
        # Stage 2: few votes for a 1.5M-parameter network. A fixed stage-1 audio encoder keeps what stage 1 learnt
        # about damage (the generalisation test) and is several times faster; the heads learn the demo's tastes.
        parser.add_argument("--epochs", type=int, default=8)
        parser.add_argument("--learning-rate", type=float, default=3e-4)
        parser.add_argument("--patience", type=int, default=3)
        parser.add_argument("--train-encoder", action="store_true", help="fine-tune the audio encoder too")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        import torch

        from demo.build import demo_finetune
        from demo.pretrain import pretrain_parser, pretrain_run
        from reward.errors import NotEnoughData
        from reward.ml.checkpoint import checkpoint_save
        from reward.ml.train import FinetuneSettings

        if Vote.objects.exists():
            raise CommandError("the database already has votes: run this on an empty scratch database "
                               "(`make reward-model` makes one) so that the checkpoint is reproducible")
        seed, out = options["seed"], Path(options["out"])
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int, figures: Mapping[str, float]) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=stage, unit="step", disable=options["no_progress"],
                                         file=self.stderr._out)
            bar.update(done - bar.n)
            shown = {key: value for key, value in figures.items() if key not in {"epoch", "step"}}
            if shown:
                bar.set_postfix({key: round(value, 4) for key, value in shown.items()}, refresh=False)

        seconds: dict[str, float] = {}
        started = time.perf_counter()
        budget = [f"--{key}={options[key]}" for key in ("pieces", "pairs", "steps") if options[key] is not None]
        stage1_args = pretrain_parser().parse_args(["--out", str(out), "--seed", str(seed),
                                                    "--threads", str(options["threads"]), *budget])
        try:
            pretrained, stage1 = pretrain_run(stage1_args, command=COMMAND, progress=progress,
                                              show_render=not options["no_progress"])
        finally:
            for bar in bars.values():
                bar.close()
            bars.clear()
        seconds["stage1"] = round(time.perf_counter() - started, 1)
        self.stdout.write(f"stage 1 done in {seconds['stage1']} s: " + json.dumps(
            {k: v for k, v in pretrained.metrics.items() if k.startswith("validation_")}, sort_keys=True))

        mark = time.perf_counter()
        demo = [f"--{key[5:]}={options[key]}" for key in ("demo_prompts", "demo_votes") if options[key] is not None]
        # The bundled model is what this command replaces: scoring the demo with it would be wasted time, and it
        # may not even load into code whose network changed since it was built.
        demo.append("--no-reward-model")
        if options["no_progress"]:
            demo.append("--no-progress")
        call_command("seed_demo", "--seed", str(seed), *demo, stdout=self.stdout, stderr=self.stderr)
        seconds["seed_demo"] = round(time.perf_counter() - mark, 1)
        self.stdout.write(f"demo seeded in {seconds['seed_demo']} s")

        mark = time.perf_counter()
        torch.set_num_threads(options["threads"])
        settings_ft = FinetuneSettings(
            epochs=options["epochs"], learning_rate=options["learning_rate"], patience=options["patience"], seed=seed,
            freeze_audio_encoder=not options["train_encoder"],
        )
        try:
            network, stage2, votes = demo_finetune(network=pretrained.model.to("cpu"), settings_ft=settings_ft,
                                                   progress=progress)
        except NotEnoughData as exc:
            raise CommandError(exc.message) from exc
        finally:
            for bar in bars.values():
                bar.close()
        seconds["stage2"] = round(time.perf_counter() - mark, 1)
        seconds["total"] = round(time.perf_counter() - started, 1)
        history = stage2.pop("history")
        held_out = {
            axis: {"model": figures.get("accuracy"), "true_model": stage2["true_model_holdout"].get(axis, {}).get(
                "accuracy"), "stage1_model": stage2["holdout_before_finetune"].get(axis, {}).get("accuracy"),
                "decisive_pairs": figures.get("decisive_pairs"), "log_loss": figures.get("log_loss")}
            for axis, figures in stage2["holdout"].items()
        }
        training = {
            "command": COMMAND,
            "seed": seed,
            "data": (
                f"{stage1['data'].replace('; no votes', '')}; stage 2: {votes['votes']} simulated votes "
                f"(manage.py seed_demo --seed {seed}: {len(votes['systems'])} demo systems x {votes['prompts']} "
                "prompts, Bradley-Terry on each system's true strengths with noisy raters), "
                f"{stage2['holdout_votes']} of them on {stage2['holdout_groups']} held-out prompts"
            ),
            "stage1": {key: value for key, value in stage1.items() if key not in {"command", "data"}},
            "stage2": {"settings": vars(settings_ft), "votes": votes, "history": history},
            "seconds": seconds,
        }
        metrics = {
            "stage": "finetune",
            "pretrain": pretrained.metrics,
            "finetune": {key: value for key, value in stage2.items()
                         if key not in {"holdout", "true_model_holdout", "holdout_before_finetune"}},
            "held_out": stage2["holdout"],
            "held_out_before_finetune": stage2["holdout_before_finetune"],
            "true_model_held_out": stage2["true_model_holdout"],
            "held_out_accuracy": held_out,
        }
        # Written beside the bundled weights, then swapped in file by file, so a failed run leaves them as they were.
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
        self.stdout.write(f"seconds per stage: {json.dumps(seconds)}")
        self.stdout.write("held-out accuracy (model vs true preference model): " + json.dumps(held_out, sort_keys=True))
        self.stdout.write(f"checkpoint {out}: {info.config['weights']['bytes']} bytes, sha256 {info.sha256}")
