"""`manage.py import_preferences FOLDER --format music-arena|cmi-pref --source SLUG`: import a public preference
dataset from a local folder as votes of the board "imported:<SLUG>", with a progress bar."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.imports import FORMATS, RowOutcome, folder_import, rows_of, source_ensure
from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Import a public preference dataset from a local folder: Music Arena battle records (a .json per battle or "
        ".jsonl of them, audio files named by a_audio_url / b_audio_url) or CMI-Pref rows (cmi_data.jsonl, with "
        "audio-path, audio2, ref-audio-path relative to the folder). Each row becomes a voted battle of mode "
        "'imported' on the board imported:<source>; a bad row is refused with one line saying why, the rest are "
        "imported; rows already imported are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--source", required=True, help="the dataset's slug: its board is imported:<source>")
        parser.add_argument("--name", default="", help="the dataset's name, for people")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder}: no such folder")
        try:
            source = source_ensure(slug=options["source"], fmt=options["fmt"], name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        rows = rows_of(folder.resolve(), options["fmt"])
        with progress_bar(
            stream=self.stderr, total=len(rows), enabled=not options["no_progress"], unit="row"
        ) as bar:

            def report(outcome: RowOutcome) -> None:
                bar.update(1)
                if outcome.status == "refused":
                    bar.say(f"refused  {outcome.where}: {outcome.message}")

            result = folder_import(folder=folder, fmt=options["fmt"], source=source, progress=report, rows=rows)
        self.stdout.write(
            f"imported {result.count('imported')}, skipped {result.count('skipped')} (already there), "
            f"refused {result.count('refused')} into {source.scope}"
        )
