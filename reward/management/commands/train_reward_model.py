"""`manage.py train_reward_model`: train a reward-model version on this catalogue and its votes, with progress bars."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import EarshotError
from core.progress import StageBars


class Command(BaseCommand):
    help = (
        "Train the bundled reward network: stage 'pretrain' on the catalogue's clips against degraded copies of "
        "themselves, stage 'finetune' on the votes (Bradley-Terry per axis, ties as 1/2, both_bad left out, "
        "evaluated on votes held out by prompt), or 'both'. Saves a checkpoint, registers it as a version with its "
        "held-out figures and, with --activate, makes it active (every clip is then rescored). CPU by default."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stage", choices=["pretrain", "finetune", "both"], default="finetune")
        parser.add_argument("--out", default=None, help="checkpoint folder (default: DATA_DIR/reward_models/<name>)")
        parser.add_argument("--activate", action="store_true", help="make the new version the active one")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
        parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        parser.add_argument("--pretrain-steps", type=int, default=None)
        parser.add_argument("--pretrain-pairs", type=int, default=None)
        parser.add_argument("--batch-pairs", type=int, default=None)
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--patience", type=int, default=None)
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        from reward.training import reward_model_train

        budget = {
            key: options[key]
            for key in ("threads", "pretrain_steps", "pretrain_pairs", "batch_pairs", "epochs", "batch_size",
                        "patience")
            if options[key] is not None
        }
        try:
            with StageBars(stream=self.stderr, enabled=not options["no_progress"]) as progress:
                version = reward_model_train(
                    stage=options["stage"],
                    seed=options["seed"],
                    activate=options["activate"],
                    out_dir=options["out"],
                    budget=budget,
                    device=options["device"],
                    progress=progress,
                )
        except EarshotError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"version {version.name} saved to {version.path}" + (" and activated" if version.active
                                                                                else ""))
        held_out = (version.metrics or {}).get("held_out") or {}
        if held_out:
            self.stdout.write("held-out votes (grouped by prompt): " + json.dumps(held_out, sort_keys=True))
        pretrain = (version.metrics or {}).get("pretrain") or {}
        accuracy = {key: value for key, value in pretrain.items() if key.startswith("validation_")}
        if accuracy:
            self.stdout.write("pretraining validation: " + json.dumps(accuracy, sort_keys=True))
