"""`manage.py build_reward_model`: rebuild the bundled reward-model checkpoint from scratch, reproducibly: stage 1 on
synthesised music, the demo catalogue with its simulated votes, stage 2 on those votes; run it on an empty database."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import EarshotError
from core.progress import StageBars
from demo.build import BuildRecipe, reward_model_build

DEFAULT = BuildRecipe()


class Command(BaseCommand):
    help = (
        "Rebuild the bundled reward model: stage 1 as `python -m demo.pretrain` (synthesised music "
        "against degraded copies), then the demo catalogue and its simulated votes (as `seed_demo`), then stage 2 on "
        "those votes from the stage-1 network, evaluated on votes held out by prompt against the simulation's true "
        "preference model. Needs an empty scratch database (`make reward-model` makes one). Writes --out (the "
        "bundled weights)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "reward" / "ml" / "weights"))
        parser.add_argument("--seed", type=int, default=DEFAULT.seed,
                            help=f"seed of both stages and of the demo (default {DEFAULT.seed})")
        parser.add_argument("--threads", type=int, default=DEFAULT.threads,
                            help=f"torch CPU threads (default {DEFAULT.threads})")
        # Smaller budgets are for trying the recipe out; the bundled checkpoint uses the defaults.
        parser.add_argument("--pieces", type=int, default=None, help="stage-1 pieces (default: demo.pretrain's)")
        parser.add_argument("--pairs", type=int, default=None, help="stage-1 pairs (default: demo.pretrain's)")
        parser.add_argument("--steps", type=int, default=None, help="stage-1 steps (default: demo.pretrain's)")
        parser.add_argument("--validation-pieces", type=int, default=None,
                            help="stage-1 validation pieces (default: demo.pretrain's)")
        parser.add_argument("--piece-seconds", type=float, default=None,
                            help="stage-1 piece length in s (default: demo.pretrain's)")
        parser.add_argument("--demo-prompts", type=int, default=DEFAULT.demo_prompts,
                            help=f"demo prompts (default {DEFAULT.demo_prompts}, as seed_demo)")
        parser.add_argument("--demo-votes", type=int, default=DEFAULT.demo_votes,
                            help=f"simulated demo votes (default {DEFAULT.demo_votes}, as seed_demo)")
        parser.add_argument("--demo-seconds", type=float, default=None,
                            help="demo clip length in s (default 8-12 s, random, as seed_demo)")
        parser.add_argument("--epochs", type=int, default=DEFAULT.epochs)
        parser.add_argument("--learning-rate", type=float, default=DEFAULT.learning_rate)
        parser.add_argument("--patience", type=int, default=DEFAULT.patience)
        parser.add_argument("--train-encoder", action="store_true", help="fine-tune the audio encoder too")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        recipe = BuildRecipe(
            seed=options["seed"], threads=options["threads"], pieces=options["pieces"], pairs=options["pairs"],
            steps=options["steps"], validation_pieces=options["validation_pieces"],
            piece_seconds=options["piece_seconds"], demo_prompts=options["demo_prompts"],
            demo_votes=options["demo_votes"], demo_seconds=options["demo_seconds"],
            epochs=options["epochs"], learning_rate=options["learning_rate"], patience=options["patience"],
            train_encoder=options["train_encoder"],
        )
        try:
            with StageBars(stream=self.stderr, enabled=not options["no_progress"]) as progress:
                built = reward_model_build(out=Path(options["out"]), recipe=recipe, progress=progress)
        except EarshotError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write("stage 1 validation: " + json.dumps(built.stage1_validation, sort_keys=True))
        catalogue = built.catalogue
        self.stdout.write(f"demo (seed {recipe.seed}): clips imported {catalogue.clips_imported}, skipped "
                          f"{catalogue.clips_skipped}; {built.votes.votes_total if built.votes else 0} votes")
        self.stdout.write(f"seconds per stage: {json.dumps(built.seconds)}")
        self.stdout.write("held-out accuracy (model vs true preference model): "
                          + json.dumps(built.held_out, sort_keys=True))
        self.stdout.write(f"checkpoint {built.out}: {built.weights_bytes} bytes, sha256 {built.sha256}")
