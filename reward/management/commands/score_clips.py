"""`manage.py score_clips`: score clips with the active reward-model version here, in this process, with progress."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Score every active clip the active reward-model version has not scored yet (or --all to redo them), in "
        "batches, recording progress on the version. --ensure-default first registers and activates the bundled "
        "checkpoint when no version is active."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="rescore clips that already have scores")
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--ensure-default", action="store_true",
                            help="activate the bundled checkpoint if no version is active")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from reward.inference import version_rescore
        from reward.models import ClipScore
        from reward.selectors import version_active
        from reward.services import reward_model_ensure_default

        version = reward_model_ensure_default() if options["ensure_default"] else version_active()
        if version is None:
            raise CommandError("No reward model version is active: activate one in the admin, or pass "
                               "--ensure-default to use the bundled checkpoint.")
        if options["all"]:
            ClipScore.objects.filter(version=version).delete()
        with progress_bar(stream=self.stderr, total=None, enabled=not options["no_progress"],
                          desc=f"scoring with {version.name}") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            done = version_rescore(version=version, batch_size=options["batch_size"], progress=progress)
        self.stdout.write(f"scored {done} clip(s) with {version.name}")
