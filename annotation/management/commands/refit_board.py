"""`manage.py refit_board EXPORT`: refit each board of an export from its rows alone and compare every figure."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.refit import board_refit

COMPARED = ("rating", "ci_low", "ci_high", "rank", "n")


def export_vote_rows(folder: Path) -> list[dict[str, Any]]:
    """The (source, system_a, system_b, winner) of every row of a per-vote export, from its Parquet or JSONL file."""
    parquet, jsonl = folder / "data" / "preferences.parquet", folder / "data" / "preferences.jsonl"
    columns = ["source", "system_a", "system_b", "winner"]
    if parquet.exists():
        return pq.read_table(parquet, columns=columns).to_pylist()
    if jsonl.exists():
        with jsonl.open(encoding="utf-8") as lines:
            return [{name: row[name] for name in columns} for row in map(json.loads, lines)]
    raise CommandError(f"{folder} holds no per-vote rows (data/preferences.parquet or .jsonl): refit needs an "
                       "export of shape 'votes'")


class Command(BaseCommand):
    help = "Refit the leaderboards an export names (board.json) from its rows alone, and compare every figure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("export", type=Path, help="the export's folder")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["export"]
        board_file = folder / "board.json"
        if not board_file.exists():
            raise CommandError(f"{folder} is not an export: it has no board.json")
        boards = json.loads(board_file.read_text(encoding="utf-8"))
        rows = export_vote_rows(folder)
        mismatches = 0
        for source, board in boards.items():
            refit = board_refit(
                ((r["system_a"], r["system_b"], r["winner"]) for r in rows if r["source"] == source),
                systems=board["systems"], seed=board["seed"], rounds=board["method"]["rounds"],
                min_votes=board["method"]["min_votes"],
            )
            published = {row["slug"]: row for row in board["rows"]}
            refitted = {row["slug"]: row for row in refit}
            self.stdout.write(f"{source} (digest {board['digest'][:12]}, seed {board['seed']}):")
            for slug in sorted(published.keys() | refitted.keys(), key=lambda s: (published.get(s) or {}).get(
                    "rank", 1 << 30)):
                want, got = published.get(slug), refitted.get(slug)
                same = want is not None and got is not None and all(want[k] == got[k] for k in COMPARED)
                mismatches += not same
                shown = got or want or {}
                self.stdout.write(f"  {'=' if same else '≠'} {slug:<24} {shown.get('rating')} "
                                  f"({shown.get('ci_low')}–{shown.get('ci_high')}) rank {shown.get('rank')}"
                                  + ("" if same else f"   published {want}, refit {got}"))
        if mismatches:
            raise CommandError(f"{mismatches} system(s) differ from the published board")
        self.stdout.write("every figure of every board matches")
