"""`manage.py export_preferences DEST`: write a preference dataset (JSONL, CSV, Parquet, card, manifest) with a
progress bar."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import make_aware

from annotation.export_schema import Shape
from annotation.exports import AXIS_NAMES, FORMATS, ExportSpec, export_run
from core.errors import EarshotError
from core.progress import progress_bar


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--{name} {value!r} is not a date (YYYY-MM-DD) or an ISO date-time")
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment if moment.tzinfo else make_aware(moment, UTC)


class Command(BaseCommand):
    help = (
        "Export votes as a preference dataset into DEST (a new folder): data/<name>.jsonl|csv|parquet in one "
        "schema, board.json (the leaderboard the rows reproduce), README.md (dataset card) and MANIFEST.sha256; "
        "--bundle adds the audio and a tar. Rater ids are hashed with a fresh secret salt; no IP, e-mail or crowd id "
        "is written; feedback only with --feedback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("destination", type=Path)
        parser.add_argument("--source", action="append", dest="sources", metavar="SCOPE",
                            help="arena (default) or campaign:<slug>; repeat for several")
        parser.add_argument("--shape", choices=[shape.value for shape in Shape], default=Shape.VOTES.value)
        parser.add_argument("--format", action="append", dest="formats", choices=FORMATS,
                            help="jsonl, csv, parquet (default: all three)")
        parser.add_argument("--since", help="votes recorded at or after this date / date-time (UTC)")
        parser.add_argument("--until", help="votes recorded before this date / date-time (UTC)")
        parser.add_argument("--axes", help=f"comma-separated per-axis columns to fill (default all: "
                                           f"{','.join(AXIS_NAMES)}; empty for none)")
        parser.add_argument("--include-flagged", action="store_true",
                            help="also the votes of raters left out of the boards")
        parser.add_argument("--min-votes", type=int, default=1, help="only pairs with at least this many votes")
        parser.add_argument("--feedback", action="store_true", help="include the raters' free-text reasons")
        parser.add_argument("--embargo-days", type=float,
                            help="public release: leave out votes younger than this many days")
        parser.add_argument("--bundle", action="store_true", help="copy the audio and write DEST.tar")
        parser.add_argument("--license", default="cc-by-4.0")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        axes = AXIS_NAMES if options["axes"] is None else tuple(a for a in options["axes"].split(",") if a.strip())
        spec = ExportSpec(
            sources=tuple(options["sources"] or ("arena",)),
            shape=Shape(options["shape"]),
            formats=tuple(options["formats"] or FORMATS),
            since=_moment(options["since"], "since"),
            until=_moment(options["until"], "until"),
            axes=tuple(axis.strip() for axis in axes),
            include_flagged=options["include_flagged"],
            min_votes=options["min_votes"],
            include_feedback=options["feedback"],
            embargo=timedelta(days=options["embargo_days"]) if options["embargo_days"] is not None else None,
            bundle=options["bundle"],
            license=options["license"],
        )
        with progress_bar(stream=self.stderr, total=None, enabled=not options["no_progress"], unit="vote",
                          desc="exporting") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                result = export_run(spec=spec, destination=options["destination"], progress=progress)
            except EarshotError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"exported {result.rows} row(s) from {result.votes} vote(s) into {result.folder}")
        for name in result.files:
            self.stdout.write(f"  {name}")
        for source, board in result.boards.items():
            live = board["live_snapshot"]
            state = f"the live board (snapshot #{live['id']})" if live else "not the live board"
            self.stdout.write(f"board {source}: digest {board['digest'][:12]}, seed {board['seed']}, {state}")
        if result.bundle:
            self.stdout.write(f"bundle {result.bundle} sha256 {result.bundle_sha256}")
