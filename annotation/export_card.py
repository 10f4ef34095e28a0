"""The dataset card (README.md) of an export: Hugging Face metadata, the schema, counts, agreement, boards."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from annotation.export_schema import COLUMNS, Shape
from scoring.agreement import fleiss_kappa_from_counts, krippendorff_alpha_from_counts


@dataclass(frozen=True)
class CardFacts:
    title: str
    license: str
    shape: Shape
    created_at: datetime
    code_version: str
    data_files: list[str]
    rows: int
    votes: int
    pairs: int
    systems: dict[str, dict[str, int]]
    axes: dict[str, int]
    overlapping_pairs: Any  # pairs with two votes or more x (a, b, tie, both_bad) counts
    boards: dict[str, dict[str, Any]]
    filters: dict[str, Any]
    bundle: bool


def _figure(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def agreement_figures(overlapping: Any) -> dict[str, Any]:
    """Agreement between raters on the overall choice, over pairs with two votes or more (a, b, tie, both_bad as
    four categories): pairwise percent agreement, Fleiss' kappa, Krippendorff's alpha (nominal)."""
    table = np.asarray(overlapping, dtype=np.float64).reshape(-1, 4)
    if not len(table):
        return {"pairs": 0, "percent_agreement": None, "fleiss_kappa": None, "krippendorff_alpha": None}
    totals = table.sum(axis=1)
    within = (table * (table - 1)).sum(axis=1) / (totals * (totals - 1))
    return {
        "pairs": len(table),
        "percent_agreement": float(within.mean()),
        "fleiss_kappa": fleiss_kappa_from_counts(table),
        "krippendorff_alpha": krippendorff_alpha_from_counts(table),
    }


def card_text(facts: CardFacts) -> str:
    files = "\n".join(f"    path: {name}" for name in facts.data_files if name.endswith(".parquet")) or (
        f"    path: {facts.data_files[0]}" if facts.data_files else "")
    agreement = agreement_figures(facts.overlapping_pairs)
    lines = [
        "---",
        f"license: {facts.license}",
        "pretty_name: " + facts.title,
        "task_categories:\n- audio-classification",
        "tags:\n- music\n- human-preference\n- pairwise-comparison",
        "configs:\n- config_name: default\n  data_files:\n  - split: train\n" + files,
        "---",
        "",
        f"# {facts.title}",
        "",
        f"Pairwise human preferences between generated music clips, exported from Earshot on "
        f"{facts.created_at:%Y-%m-%d %H:%M} UTC (code {facts.code_version}). Shape: **{facts.shape.value}**; "
        f"{facts.rows} rows from {facts.votes} votes on {facts.pairs} clip pairs. Licence: {facts.license}.",
        "",
        "Files: " + ", ".join(f"`{name}`" for name in facts.data_files)
        + (", audio under `audio/` and `reference/`" if facts.bundle else " (audio not bundled: paths are relative)")
        + ", `board.json` (the leaderboard these rows reproduce), `MANIFEST.sha256` (`sha256sum -c MANIFEST.sha256`).",
        "",
        "## Schema",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        *(f"| `{c.name}` | {c.type} | {c.meaning} |" for c in COLUMNS[facts.shape]),
        "",
        "Rater ids are keyed hashes with a salt secret to this export (they match across rows of this export only). "
        "No IP address, e-mail or crowd-platform id is exported; free-text feedback only when the export asked for it.",
        "",
        "## Filters",
        "",
        *(f"- {name}: {value}" for name, value in facts.filters.items()),
        "",
        "## Counts per system",
        "",
        "| system | votes | wins | losses | ties | both bad |",
        "|---|---|---|---|---|---|",
        *(f"| {slug} | {row['votes']} | {row['wins']} | {row['losses']} | {row['ties']} | {row['both_bad']} |"
          for slug, row in facts.systems.items()),
        "",
        "## Answers per axis",
        "",
        "| axis | answers |",
        "|---|---|",
        *(f"| {axis} | {n} |" for axis, n in facts.axes.items()),
        "",
        "## Agreement between raters (overall choice, pairs with two votes or more)",
        "",
        f"- pairs: {agreement['pairs']}",
        f"- percent agreement (pairwise, mean over pairs): {_figure(agreement['percent_agreement'])}",
        f"- Fleiss' kappa: {_figure(agreement['fleiss_kappa'])}",
        f"- Krippendorff's alpha (nominal): {_figure(agreement['krippendorff_alpha'])}",
        "",
        "## Leaderboards these rows reproduce",
        "",
        "`python manage.py refit_board <this folder>` refits each board below from the rows alone with "
        "`scoring/ratings.py` (Bradley–Terry, bootstrap seed and rounds from `board.json`) and compares every figure.",
        "",
    ]
    for source, board in facts.boards.items():
        live = board["live_snapshot"]
        lines += [
            f"### {source}",
            "",
            f"digest `{board['digest']}`, seed {board['seed']}, {board['method'].get('rounds')} bootstrap rounds, "
            f"{board['vote_count']} votes; "
            + (f"the live board's snapshot #{live['id']} ({live['computed_at']})." if live
               else "not the live board (the export's filters chose other votes, or the board has not caught up)."),
            "",
            "| rank | system | rating | 95% interval | votes |",
            "|---|---|---|---|---|",
            *(f"| {row['rank']} | {row['slug']} | {row['rating']} | {row['ci_low']}–{row['ci_high']} | {row['n']} |"
              for row in board["rows"]),
            "",
        ]
    return "\n".join(lines)


def card_write(folder: Path, facts: CardFacts) -> None:
    (folder / "README.md").write_text(card_text(facts), encoding="utf-8")
