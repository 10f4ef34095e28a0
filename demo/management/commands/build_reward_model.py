"""`manage.py build_reward_model`: rebuild the bundled reward-model checkpoint from scratch, reproducibly: stage 1 on
synthesised music, the demo catalogue with its simulated votes, stage 2 on those votes; run it on an empty database."""
from __future__ import annotations

import json
from io import StringIO
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
        parser.add_argument("--rehearsal-pairs", type=int, default=DEFAULT.rehearsal_pairs,
                            help="stage-1 quality pairs replayed per stage-2 batch (default "
                                 f"{DEFAULT.rehearsal_pairs})")
        parser.add_argument("--real-per-track", type=int, default=None,
                            help="stage-1 excerpts per real training track (default: demo.pretrain's)")
        parser.add_argument("--penalty-alone-weight", type=float, default=None,
                            help="stage 1: weight of the quality pairs ranked by the artefact penalty alone "
                                 "(default: demo.pretrain's)")
        parser.add_argument("--penalty-learning-rate-factor", type=float, default=None,
                            help="stage 1: the artefact penalty's learning rate as a multiple of the network's "
                                 "(default: demo.pretrain's)")
        parser.add_argument("--real-test-per-track", type=int, default=DEFAULT.real_test_per_track,
                            help="real-recording test excerpts per test track (default "
                                 f"{DEFAULT.real_test_per_track})")
        parser.add_argument("--floor-margin", type=float, default=DEFAULT.floor_margin,
                            help="after stage 2, raise the artefact penalty until clean real training excerpts beat "
                                 "damaged copies by this margin in score units (reward/ml/floor.py; default "
                                 f"{DEFAULT.floor_margin})")
        parser.add_argument("--no-floor", action="store_true", help="leave the stage-2 penalty as it is")
        parser.add_argument("--floor-per-track", type=int, default=DEFAULT.floor_per_track,
                            help=f"real training excerpts per track for the floor (default {DEFAULT.floor_per_track})")
        parser.add_argument("--allow-missed-targets", action="store_true",
                            help="write the checkpoint even when it misses its real-recording targets (for trying "
                                 "a recipe out; they are printed and stored in its config.json)")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        recipe = BuildRecipe(
            seed=options["seed"], threads=options["threads"], pieces=options["pieces"], pairs=options["pairs"],
            steps=options["steps"], validation_pieces=options["validation_pieces"],
            piece_seconds=options["piece_seconds"], demo_prompts=options["demo_prompts"],
            demo_votes=options["demo_votes"], demo_seconds=options["demo_seconds"],
            epochs=options["epochs"], learning_rate=options["learning_rate"], patience=options["patience"],
            train_encoder=options["train_encoder"], rehearsal_pairs=options["rehearsal_pairs"],
            real_per_track=options["real_per_track"], real_test_per_track=options["real_test_per_track"],
            penalty_alone_weight=options["penalty_alone_weight"],
            penalty_learning_rate_factor=options["penalty_learning_rate_factor"],
            allow_missed_targets=options["allow_missed_targets"],
            floor_margin=None if options["no_floor"] else options["floor_margin"],
            floor_per_track=options["floor_per_track"],
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
        self.stdout.write("every demo vote (as the agreement page counts them): " + json.dumps(
            {axis: figures.get("accuracy") for axis, figures in built.all_votes.items()}, sort_keys=True))
        if built.real_recordings is not None:
            from reward.ml.realtest import table_print

            stream = StringIO()
            table_print(built.real_recordings, stream=stream)
            self.stdout.write("real recordings after stage 2: " + stream.getvalue().rstrip())
            self.stdout.write("real-recording targets: " + ("; ".join(built.targets_missed) or "all hold"))
        self.stdout.write(f"checkpoint {built.out}: {built.weights_bytes} bytes, sha256 {built.sha256}")
