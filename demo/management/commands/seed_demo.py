"""`manage.py seed_demo`: synthesise the demo catalogue (systems, prompts, clips) and simulate votes on it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import EarshotError
from core.progress import progress_bar
from demo import synth
from demo.services import (
    DEMO_PROMPTS,
    DEMO_RATERS,
    DEMO_SAMPLE_RATE,
    DEMO_VOTES,
    demo_catalogue_seed,
    demo_votes_simulate,
)
from reward.jobs import agreement_recompute_request
from reward.services import reward_model_ensure_default


def _ranking_text() -> str:
    ranked = sorted(synth.DEMO_SYSTEMS, key=lambda profile: -profile.true_strength)
    return "; ".join(f"{rank}. {profile.slug}" for rank, profile in enumerate(ranked, start=1))


class Command(BaseCommand):
    help = (
        "Synthesise the demo catalogue: demo systems x prompts, one 8-12 s clip each, rendered by demo.synth and "
        "imported through the normal ingest; then simulate votes from noisy raters (Bradley-Terry on each system's "
        "true strength). Deterministic by --seed and idempotent: running it again adds only what is missing. "
        f"Expected ranking, best first: {_ranking_text()} (clean; faint noise; band-limited; pitch wobble; "
        "ignores the prompt; clipped and noisy)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=0, help="catalogue and vote seed (default 0)")
        parser.add_argument(
            "--systems",
            type=int,
            default=len(synth.DEMO_SYSTEMS),
            help=f"how many demo systems, best first (2-{len(synth.DEMO_SYSTEMS)}, default all)",
        )
        parser.add_argument("--prompts", type=int, default=DEMO_PROMPTS,
                            help=f"how many prompts (default {DEMO_PROMPTS})")
        parser.add_argument("--duration", type=float, default=None, help="clip length in s (default 8-12 s, random)")
        parser.add_argument("--sample-rate", type=int, default=DEMO_SAMPLE_RATE,
                            help=f"sample rate of the clips (default {DEMO_SAMPLE_RATE})")
        parser.add_argument("--votes", type=int, default=DEMO_VOTES,
                            help=f"simulated votes in total; 0 for none ({DEMO_VOTES})")
        parser.add_argument("--raters", type=int, default=DEMO_RATERS, help=f"simulated raters (default {DEMO_RATERS})")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        parser.add_argument(
            "--no-reward-model",
            action="store_true",
            help="do not activate the bundled reward model (nor score the demo with it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        total = options["systems"] * options["prompts"]
        try:
            with progress_bar(stream=self.stderr, total=total, enabled=not options["no_progress"]) as bar:
                catalogue = demo_catalogue_seed(
                    seed=options["seed"],
                    systems=options["systems"],
                    prompts=options["prompts"],
                    duration_s=options["duration"],
                    sample_rate=options["sample_rate"],
                    progress=lambda: bar.update(1),
                )
            self.stdout.write(
                f"catalogue (seed {options['seed']}): {catalogue.systems_created} systems and "
                f"{catalogue.prompts_created} prompts created; clips imported {catalogue.clips_imported}, "
                f"skipped {catalogue.clips_skipped} (already there)"
            )
            if options["votes"] > 0:
                votes = demo_votes_simulate(seed=options["seed"], votes=options["votes"], raters=options["raters"])
                self.stdout.write(
                    f"votes: {votes.votes_created} simulated now, {votes.votes_total} in total from {votes.raters} "
                    "raters"
                )
            # Activating the bundled reward model scores every clip and reports its agreement (in Celery).
            version = None if options["no_reward_model"] else reward_model_ensure_default()
            if version is not None:
                agreement_recompute_request()
                self.stdout.write(f"reward model: {version.name} active; clips scored and agreement queued")
        except EarshotError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"expected ranking: {_ranking_text()}")
