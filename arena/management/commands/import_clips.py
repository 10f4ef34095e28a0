"""`manage.py import_clips MANIFEST.jsonl`: import clips listed one JSON object a line, with a progress bar."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.ingest import ImportOutcome, manifest_import, manifest_lines
from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Import clips from a JSONL manifest. Each line: {\"system\": slug-or-name, \"prompt\": text (or "
        "\"prompt_id\": id), \"lyrics\": optional, \"reference_audio\": optional path, \"audio\": path}; paths are "
        "relative to the manifest's folder. Each line is imported whole or refused whole, with one line saying why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("manifest", type=Path)
        parser.add_argument("--create-systems", action="store_true", help="register systems the manifest names")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        manifest: Path = options["manifest"]
        if not manifest.is_file():
            raise CommandError(f"{manifest}: no such manifest file")
        total = sum(1 for _ in manifest_lines(manifest))
        with progress_bar(stream=self.stderr, total=total, enabled=not options["no_progress"]) as bar:

            def report(outcome: ImportOutcome) -> None:
                bar.update(1)
                if outcome.status == "refused":
                    bar.say(f"refused  line {outcome.line}: {outcome.source}: {outcome.message}")

            summary = manifest_import(manifest=manifest, create_systems=options["create_systems"], progress=report)
        self.stdout.write(
            f"imported {summary.imported}, skipped {summary.skipped} (already there), refused {summary.refused}"
        )
        if summary.refused:
            raise CommandError(f"{summary.refused} line(s) refused; the others were imported")
