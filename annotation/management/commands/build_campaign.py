"""`manage.py build_campaign SLUG`: build a campaign's pairs (regular, practice, gold) with a progress bar, and print
what was made and skipped."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.pairs import DESIGNS, RANKS, campaign_build
from core.errors import EarshotError
from core.progress import StageBars


def _ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                if not part.strip().isdigit():
                    raise CommandError(f"--prompts takes prompt ids, not {part.strip()!r}")
                ids.append(int(part))
    return ids


def _keys(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Build a campaign's pairs from prompts × systems (every system pair, or a balanced design), optionally "
        "ranked or top-k filtered by the active reward model's scores, or from a CSV/JSONL list (prompt_id, clip_a, "
        "clip_b as clip public ids, or prompt_id, system_a, system_b as slugs; any bad line refuses the whole "
        "list); then practice and gold items (totals). Building again adds nothing already there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the campaign's slug")
        chosen = parser.add_mutually_exclusive_group()
        chosen.add_argument("--prompts", nargs="+", default=None, help="prompt ids (spaces or commas)")
        chosen.add_argument("--all-prompts", action="store_true", help="every prompt that has active clips")
        parser.add_argument("--systems", nargs="+", default=None, help="system slugs (default: every system)")
        parser.add_argument("--design", choices=DESIGNS, default="all")
        parser.add_argument("--pairs-per-prompt", type=int, default=None, help="system pairs per prompt (balanced)")
        parser.add_argument("--rank", choices=RANKS, default="none",
                            help="reward: order the pool by the model's uncertainty, least sure first")
        parser.add_argument("--top-k", type=int, default=None,
                            help="per prompt, keep the k systems whose clips the model scores highest")
        parser.add_argument("--from", dest="source", type=Path, default=None, help="a .csv or .jsonl pair list")
        parser.add_argument("--gold", type=int, default=0, help="gold items the campaign should have in all")
        parser.add_argument("--practice", type=int, default=0, help="practice items the campaign should have")
        parser.add_argument("--seed", type=int, default=0, help="seed of the design's and gold's random choices")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path | None = options["source"]
        if source is None and options["prompts"] is None and not options["all_prompts"]:
            raise CommandError("choose the prompts: --prompts ID …, --all-prompts, or a list with --from FILE")
        if source is not None and (options["prompts"] is not None or options["all_prompts"] or options["systems"]):
            raise CommandError("--from takes its prompts and clips from the file: drop --prompts/--systems")
        try:
            with StageBars(stream=self.stderr, enabled=not options["no_progress"], unit="pair") as progress:
                summary = campaign_build(
                    campaign=options["slug"],
                    prompt_ids=_ids(options["prompts"]) if options["prompts"] is not None else None,
                    system_keys=_keys(options["systems"]) if options["systems"] else None,
                    design=options["design"],
                    pairs_per_prompt=options["pairs_per_prompt"],
                    rank=options["rank"],
                    top_k=options["top_k"],
                    source=source,
                    gold=options["gold"],
                    practice=options["practice"],
                    seed=options["seed"],
                    progress=progress,
                )
        except EarshotError as exc:
            raise CommandError(exc.message) from exc
        for line in summary.lines():
            self.stdout.write(line)
