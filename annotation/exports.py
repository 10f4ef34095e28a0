"""Preference exports: the engine every door (command, task, admin, API) runs (DESIGN.md flow 6).

Rows stream from the database through a server-side cursor in batches (constant memory in the number of votes) into
JSONL, CSV and Parquet writers at once. Everything is written into a hidden `.partial` folder beside the destination
and renamed into place only when complete, so a failure leaves nothing that looks like an export.

An export also writes, per source scope, the leaderboard its rows reproduce (`board.json`: digest, seed, method,
systems and rows, computed by scoring exactly as a recompute of those votes would), the dataset card (README.md) and
a sha256 manifest of every file; optionally the audio under the relative paths the rows name, and a tar bundle.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import batched
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from annotation.errors import ExportFailed, ExportInvalid
from annotation.export_card import CardFacts, card_write
from annotation.export_schema import COLUMNS, Shape, arrow_schema, clip_path, data_file_stem, reference_path
from annotation.models import Campaign, CampaignPair
from arena.models import Choice, Clip, Prompt, Rater, System, Vote
from core.axes import VOTE_AXES
from core.version import code_version
from scoring.scopes import ARENA, scope_parse
from scoring.selectors import PairTally, snapshot_current
from scoring.services import snapshot_of_tallies

FORMATS = ("jsonl", "csv", "parquet")
AXIS_NAMES = tuple(axis.value for axis in VOTE_AXES)
CHOICE_NAMES = tuple(choice.value for choice in Choice)
BATCH_ROWS = 10_000
# (rows done, rows in all) -> None
ExportProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportSpec:
    """What to export. `sources` are leaderboard bases: "arena", "campaign:<slug>" and/or "imported:<source>"."""

    sources: tuple[str, ...] = (ARENA,)
    shape: Shape = Shape.VOTES
    formats: tuple[str, ...] = FORMATS
    since: datetime | None = None
    until: datetime | None = None
    axes: tuple[str, ...] = AXIS_NAMES
    include_flagged: bool = False
    min_votes: int = 1
    include_feedback: bool = False
    embargo: timedelta | None = None
    bundle: bool = False
    license: str = "cc-by-4.0"
    title: str = "Earshot preference data"

    def validated(self) -> ExportSpec:
        """The spec, or ExportInvalid naming what is wrong."""
        if not self.sources:
            raise ExportInvalid("Choose at least one source: arena or campaign:<slug>.", field="sources")
        for source in self.sources:
            scope = scope_parse(source)  # UnknownScope (404) names the scopes that exist
            if scope.view:
                raise ExportInvalid(f"{source!r} is a view of a board; export its base and choose axes instead.",
                                    field="sources")
        if not self.formats or set(self.formats) - set(FORMATS):
            raise ExportInvalid(f"Formats are among {', '.join(FORMATS)}.", field="formats")
        if set(self.axes) - set(AXIS_NAMES):
            raise ExportInvalid(f"Axes are among {', '.join(AXIS_NAMES)}.", field="axes")
        if self.min_votes < 1:
            raise ExportInvalid("min_votes is at least 1.", field="min_votes")
        if self.since and self.until and self.since >= self.until:
            raise ExportInvalid("since must come before until.", field="since")
        if self.embargo is not None and self.embargo < timedelta(0):
            raise ExportInvalid("The embargo is a duration of zero or more.", field="embargo")
        return self


@dataclass
class ExportResult:
    folder: Path
    files: list[str]
    rows: int
    votes: int
    boards: dict[str, dict[str, Any]]
    bundle: Path | None = None
    bundle_sha256: str = ""


@dataclass
class _Lookups:
    systems: dict[int, str]
    paths: dict[int, str]
    prompts: dict[int, tuple[str, str | None, str | None, str]]
    rater_keys: dict[int, str] = field(default_factory=dict)
    salt: bytes = b""

    def rater(self, rater_id: int) -> str:
        key = self.rater_keys.get(rater_id)
        if key is None:
            key = self.rater_keys[rater_id] = hmac.new(self.salt, str(rater_id).encode(), hashlib.sha256).hexdigest()
        return key


# ---------------------------------------------------------------------------------------------------------------
# Which votes


def _source_filter(source: str, *, include_flagged: bool) -> Q:
    """The votes a source counts on its board; with include_flagged, also those of raters left out of it."""
    if not include_flagged:
        board_filter = scope_parse(source).votes_filter
        if source == ARENA:
            return board_filter & ~Q(rater__in=Rater.objects.filter(excluded_from_boards=True).values("pk"))
        return board_filter
    if source == ARENA:
        return scope_parse(ARENA).votes_filter
    if not source.startswith("campaign:"):  # an imported dataset: its raters are never left out
        return scope_parse(source).votes_filter
    campaign = Campaign.objects.get(slug=source.split(":", 1)[1])
    return Q(battle__campaign_assignment__pair__campaign=campaign,
             battle__campaign_assignment__kind=CampaignPair.Kind.REGULAR)


def _votes(spec: ExportSpec, source: str, now: datetime) -> Any:
    votes = Vote.objects.filter(_source_filter(source, include_flagged=spec.include_flagged))
    if spec.since:
        votes = votes.filter(created_at__gte=spec.since)
    until = spec.until
    if spec.embargo is not None:
        cutoff = now - spec.embargo
        until = min(until, cutoff) if until else cutoff
    if until:
        votes = votes.filter(created_at__lt=until)
    return votes


def _pair_key_expressions() -> dict[str, Any]:
    return {"low": Least("battle__clip_a_id", "battle__clip_b_id"),
            "high": Greatest("battle__clip_a_id", "battle__clip_b_id")}


def _pairs_with_enough_votes(votes: Any, min_votes: int) -> set[tuple[int, int, int]] | None:
    """(prompt, lower clip, higher clip) of the pairs with at least min_votes votes; None when every pair counts."""
    if min_votes <= 1:
        return None
    grouped = (votes.annotate(**_pair_key_expressions()).values("prompt_id", "low", "high")
               .annotate(n=Count("id")).filter(n__gte=min_votes).order_by())
    return {(row["prompt_id"], row["low"], row["high"]) for row in grouped}


VOTE_FIELDS = (
    "id", "battle__public_id", "created_at", "prompt_id", "system_a_id", "system_b_id", "battle__clip_a_id",
    "battle__clip_b_id", "choice", *AXIS_NAMES, "reason", "ms_played_a", "ms_played_b", "decision_ms", "rater_id",
    "battle__prompt_detailed",
)


def _detailed(value: dict[str, Any] | None) -> str | None:
    """A generated battle's detailed prompt as JSON text (one column type for JSONL, CSV and Parquet); None when
    the battle's clips were imported."""
    return orjson.dumps(value).decode() if value else None


def _vote_rows(votes: Any, keep: set[tuple[int, int, int]] | None) -> Iterator[tuple[Any, ...]]:
    """The votes in the order they were cast, through a server-side cursor (PostgreSQL) in chunks."""
    for row in votes.order_by("id").values_list(*VOTE_FIELDS).iterator(chunk_size=BATCH_ROWS):
        if keep is not None:
            clip_a, clip_b = row[6], row[7]
            if (row[3], min(clip_a, clip_b), max(clip_a, clip_b)) not in keep:
                continue
        yield row


# ---------------------------------------------------------------------------------------------------------------
# Writers


class _Writers:
    """One writer per format, fed column batches; the files appear under data/ in the partial folder."""

    def __init__(self, folder: Path, shape: Shape, formats: tuple[str, ...]) -> None:
        self.schema = arrow_schema(shape)
        self.names = [column.name for column in COLUMNS[shape]]
        stem = folder / "data" / data_file_stem(shape)
        stem.parent.mkdir(parents=True, exist_ok=True)
        self.paths = {fmt: stem.with_suffix(f".{fmt}") for fmt in formats}
        self.jsonl = self.paths["jsonl"].open("wb") if "jsonl" in formats else None
        self.csv = pa_csv.CSVWriter(str(self.paths["csv"]), self.schema) if "csv" in formats else None
        self.parquet = pq.ParquetWriter(str(self.paths["parquet"]), self.schema) if "parquet" in formats else None

    def write(self, columns: dict[str, list[Any]]) -> None:
        if not columns[self.names[0]]:
            return
        if self.csv or self.parquet:
            table = pa.table({name: pa.array(columns[name], type=self.schema.field(name).type) for name in self.names},
                             schema=self.schema)
            if self.csv:
                self.csv.write_table(table)
            if self.parquet:
                self.parquet.write_table(table)
        if self.jsonl:
            # Times as RFC 3339 in UTC with a Z, as Hugging Face's JSON loader reads them.
            names, option = self.names, orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z
            self.jsonl.write(b"".join(orjson.dumps(dict(zip(names, values, strict=True)), option=option)
                                      for values in zip(*(columns[name] for name in names), strict=True)))

    def close(self) -> None:
        for closer in (self.jsonl, self.csv, self.parquet):
            if closer is not None:
                closer.close()


def _empty(shape: Shape) -> dict[str, list[Any]]:
    return {column.name: [] for column in COLUMNS[shape]}


# ---------------------------------------------------------------------------------------------------------------
# The run


def _lookups(salt: bytes) -> _Lookups:
    prompts = {
        pk: (text, lyrics if lyrics.strip() else None, reference_path(pk) if reference else None, origin)
        for pk, text, lyrics, reference, origin in Prompt.objects.values_list(
            "id", "text", "lyrics", "reference_audio", "origin")
    }
    return _Lookups(
        systems=dict(System.objects.values_list("id", "slug")),
        paths={pk: clip_path(public_id) for pk, public_id in Clip.objects.values_list("id", "public_id")},
        prompts=prompts,
        salt=salt,
    )


@dataclass
class _Tally:
    wins_a: int = 0
    wins_b: int = 0
    ties: int = 0
    both_bad: int = 0
    last_vote_id: int = 0


CHOICE_CODES = {name: code for code, name in enumerate(CHOICE_NAMES)}  # a, b, tie, both_bad


class _PairTable:
    """Votes per (source, prompt, clip pair), aggregated with numpy as chunks arrive: memory grows with the pairs,
    not with the votes. Counts are per choice for the pair's lower clip id shown as A (a vote on the other order
    has its a/b swapped)."""

    COMPACT_AT = 200_000

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # keys (n, 4), counts (n, 4), times (n, 2)
        self.pending = 0

    def add(self, source: str, prompt: tuple[int, ...], clip_a: tuple[int, ...], clip_b: tuple[int, ...],
            choice: tuple[str, ...], created: tuple[datetime, ...]) -> None:
        if source not in self.sources:
            self.sources.append(source)
        first, second = np.asarray(clip_a, dtype=np.int64), np.asarray(clip_b, dtype=np.int64)
        code = np.fromiter((CHOICE_CODES[c] for c in choice), dtype=np.int64, count=len(choice))
        swap = (first > second) & (code < 2)
        code[swap] = 1 - code[swap]
        n = len(code)
        keys = np.column_stack([np.full(n, self.sources.index(source), dtype=np.int64),
                                np.asarray(prompt, dtype=np.int64), np.minimum(first, second),
                                np.maximum(first, second)])
        counts = np.zeros((n, len(CHOICE_NAMES)), dtype=np.int64)
        counts[np.arange(n), code] = 1
        stamps = np.fromiter((moment.timestamp() for moment in created), dtype=np.float64, count=n)
        self.parts.append((keys, counts, np.column_stack([stamps, stamps])))
        self.pending += n
        if self.pending >= self.COMPACT_AT:
            self._compact()

    def _compact(self) -> None:
        """Merge the parts into one row per pair, sorted by key (lexsort on the key columns: no copy of the keys as
        one wide record per row, which np.unique(axis=0) makes)."""
        if not self.parts:
            return
        keys = np.concatenate([part[0] for part in self.parts])
        counts = np.concatenate([part[1] for part in self.parts])
        times = np.concatenate([part[2] for part in self.parts])
        self.parts = []
        order = np.lexsort(keys.T[::-1])
        keys, counts, times = keys[order], counts[order], times[order]
        del order
        starts = np.flatnonzero(np.concatenate([[True], np.any(keys[1:] != keys[:-1], axis=1)]))
        self.parts = [(keys[starts], np.add.reduceat(counts, starts, axis=0),
                       np.column_stack([np.minimum.reduceat(times[:, 0], starts),
                                        np.maximum.reduceat(times[:, 1], starts)]))]
        self.pending = 0

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys: source, prompt, low clip, high clip; counts per choice; first and last vote time), sorted by key."""
        self._compact()
        if not self.parts:
            empty = np.zeros((0, 4), dtype=np.int64)
            return empty, empty.copy(), np.zeros((0, 2))
        return self.parts[0]


class _Run:
    def __init__(self, spec: ExportSpec, folder: Path, lookups: _Lookups, progress: ExportProgress | None) -> None:
        self.spec = spec
        self.folder = folder
        self.look = lookups
        self.progress = progress
        self.writers = _Writers(folder, spec.shape, spec.formats)
        self.rows = 0
        self.votes = 0
        self.total = 0
        self.tallies: dict[str, dict[tuple[int, int], _Tally]] = {}
        self.pairs = _PairTable()
        self.clips_named: set[int] = set()
        self.prompts_named: set[int] = set()
        self.axis_answers: dict[str, int] = {name: 0 for name in ("overall", *AXIS_NAMES)}

    def source(self, source: str, votes: Any, keep: set[tuple[int, int, int]] | None) -> None:
        campaign = source.split(":", 1)[1] if source.startswith("campaign:") else None
        tallies = self.tallies.setdefault(source, {})
        for chunk in batched(_vote_rows(votes, keep), BATCH_ROWS):
            columns = list(zip(*chunk, strict=True))
            self._tally(tallies, columns)
            _, _, created, prompts, _, _, clip_a, clip_b, choice = columns[:9]
            self.pairs.add(source, prompts, clip_a, clip_b, choice, created)
            self.clips_named.update(clip_a, clip_b)
            self.prompts_named.update(p for p in set(prompts) if self.look.prompts[p][2])
            if self.spec.shape == Shape.VOTES:
                self._vote_rows(source, campaign, columns)
            elif self.spec.shape == Shape.CHOSEN_REJECTED:
                self._chosen_rows(source, campaign, chunk)
            self.votes += len(chunk)
            if self.progress is not None:
                self.progress(self.votes, self.total)

    def _tally(self, tallies: dict[tuple[int, int], _Tally], columns: list[tuple[Any, ...]]) -> None:
        ids, system_a, system_b, choice = columns[0], columns[4], columns[5], columns[8]
        for (a, b, outcome), n in Counter(zip(system_a, system_b, choice, strict=True)).items():
            tally = tallies.setdefault((a, b), _Tally())
            if outcome == Choice.A:
                tally.wins_a += n
            elif outcome == Choice.B:
                tally.wins_b += n
            elif outcome == Choice.TIE:
                tally.ties += n
            else:
                tally.both_bad += n
        # Rows come in id order: the last id seen per pair is its largest.
        for pair, vote_id in dict(zip(zip(system_a, system_b, strict=True), ids, strict=True)).items():
            tallies[pair].last_vote_id = vote_id
        self.axis_answers["overall"] += len(ids)
        for offset, name in enumerate(AXIS_NAMES):
            if name in self.spec.axes:
                self.axis_answers[name] += sum(1 for answer in columns[9 + offset] if answer)

    def _vote_rows(self, source: str, campaign: str | None, columns: list[tuple[Any, ...]]) -> None:
        (_, public_ids, created, prompts, system_a, system_b, clip_a, clip_b, choice, *rest) = columns
        axes, (reason, ms_a, ms_b, decision_ms, raters, detailed) = rest[: len(AXIS_NAMES)], rest[len(AXIS_NAMES):]
        n, look, spec = len(public_ids), self.look, self.spec
        prompt_rows = [look.prompts[p] for p in prompts]
        batch: dict[str, list[Any]] = {
            "id": [str(public_id) for public_id in public_ids],
            "created_at": list(created),
            "source": [source] * n,
            "campaign": [campaign] * n,
            "prompt_id": list(prompts),
            "prompt": [row[0] for row in prompt_rows],
            "lyrics": [row[1] for row in prompt_rows],
            "reference_audio": [row[2] for row in prompt_rows],
            "prompt_origin": [row[3] for row in prompt_rows],
            "prompt_detailed": [_detailed(value) for value in detailed],
            "system_a": [look.systems[s] for s in system_a],
            "system_b": [look.systems[s] for s in system_b],
            "audio_a": [look.paths[c] for c in clip_a],
            "audio_b": [look.paths[c] for c in clip_b],
            "winner": list(choice),
            **{name: ([answer or None for answer in values] if name in spec.axes else [None] * n)
               for name, values in zip(AXIS_NAMES, axes, strict=True)},
            "ms_played_a": list(ms_a),
            "ms_played_b": list(ms_b),
            "decision_ms": list(decision_ms),
            "feedback": [text or None for text in reason] if spec.include_feedback else [None] * n,
            "rater": [look.rater(r) for r in raters],
        }
        self.writers.write(batch)
        self.rows += n

    def _chosen_rows(self, source: str, campaign: str | None, chunk: tuple[tuple[Any, ...], ...]) -> None:
        batch = _empty(Shape.CHOSEN_REJECTED)
        look = self.look
        for row in chunk:
            (_, public_id, created_at, prompt_id, system_a, system_b, clip_a, clip_b, choice, *rest) = row
            answers = dict(zip(AXIS_NAMES, rest[: len(AXIS_NAMES)], strict=True))
            prompt_text, lyrics, reference, origin = look.prompts[prompt_id]
            audio = {"a": look.paths[clip_a], "b": look.paths[clip_b]}
            systems = {"a": look.systems[system_a], "b": look.systems[system_b]}
            rater, detailed = look.rater(rest[-2]), _detailed(rest[-1])
            decided = {"overall": choice, **{name: answers[name] for name in self.spec.axes}}
            for axis, answer in decided.items():
                if answer not in ("a", "b"):
                    continue
                other = "b" if answer == "a" else "a"
                values = {"id": str(public_id), "created_at": created_at, "source": source, "campaign": campaign,
                          "prompt_id": prompt_id, "prompt": prompt_text, "lyrics": lyrics,
                          "reference_audio": reference, "prompt_origin": origin, "prompt_detailed": detailed,
                          "axis": axis, "chosen": audio[answer], "rejected": audio[other],
                          "chosen_system": systems[answer], "rejected_system": systems[other], "rater": rater}
                for name, value in values.items():
                    batch[name].append(value)
        self.writers.write(batch)
        self.rows += len(batch["id"])

    def pairs_write(self) -> None:
        keys, counts, times = self.pairs.table()
        look = self.look
        systems = dict(Clip.objects.filter(pk__in=self.clips_named).values_list("id", "system_id"))
        for start in range(0, len(keys), BATCH_ROWS):
            batch = _empty(Shape.PAIRS)
            for (source_index, prompt_id, low, high), tally_row, (first, last) in zip(
                    keys[start:start + BATCH_ROWS].tolist(), counts[start:start + BATCH_ROWS].tolist(),
                    times[start:start + BATCH_ROWS].tolist(), strict=True):
                source = self.pairs.sources[source_index]
                prompt_text, lyrics, reference, origin = look.prompts[prompt_id]
                tally = dict(zip(CHOICE_NAMES, tally_row, strict=True))
                top = max(tally_row)
                leaders = [choice for choice, n in tally.items() if n == top]
                values = {
                    "source": source, "campaign": source.split(":", 1)[1] if source.startswith("campaign:") else None,
                    "prompt_id": prompt_id, "prompt": prompt_text, "lyrics": lyrics, "reference_audio": reference,
                    "prompt_origin": origin, "system_a": look.systems[systems[low]],
                    "system_b": look.systems[systems[high]],
                    "audio_a": look.paths[low], "audio_b": look.paths[high],
                    "votes": sum(tally_row), **tally, "majority": leaders[0] if len(leaders) == 1 else None,
                    "first_vote_at": datetime.fromtimestamp(first, tz=UTC),
                    "last_vote_at": datetime.fromtimestamp(last, tz=UTC),
                }
                for name, value in values.items():
                    batch[name].append(value)
            self.writers.write(batch)
            self.rows += len(batch["source"])


def _boards(run: _Run) -> dict[str, dict[str, Any]]:
    """Per source, the leaderboard of exactly the exported votes, as scoring computes it, and whether it is the live
    board (the current snapshot has the same digest)."""
    boards: dict[str, dict[str, Any]] = {}
    for source, tallies in run.tallies.items():
        rows = [PairTally(a, b, t.wins_a, t.wins_b, t.ties, t.both_bad, t.last_vote_id)
                for (a, b), t in sorted(tallies.items())]
        data = snapshot_of_tallies(scope=scope_parse(source), tallies=rows)
        live = snapshot_current(scope=source)
        systems = sorted({t.system_a for t in rows} | {t.system_b for t in rows})
        boards[source] = {
            "digest": data.digest,
            "seed": int(data.digest[:15], 16),
            "method": data.extra.get("method", {}),
            "code_version": code_version(),
            "systems": [run.look.systems[pk] for pk in systems],
            "rows": [{key: row[key] for key in ("slug", "rating", "ci_low", "ci_high", "rank", "n")}
                     for row in data.rows],
            "vote_count": data.vote_count,
            "live_snapshot": ({"id": live.pk, "computed_at": live.computed_at.isoformat()}
                              if live is not None and live.digest == data.digest else None),
        }
    return boards


def _card_facts(run: _Run, boards: dict[str, dict[str, Any]], now: datetime) -> CardFacts:
    spec = run.spec
    per_system: dict[str, dict[str, int]] = {}
    for tallies in run.tallies.values():
        for (system_a, system_b), tally in tallies.items():
            sides = ((system_a, tally.wins_a, tally.wins_b), (system_b, tally.wins_b, tally.wins_a))
            for system, wins, losses in sides:
                row = per_system.setdefault(run.look.systems[system],
                                            {"votes": 0, "wins": 0, "losses": 0, "ties": 0, "both_bad": 0})
                row["votes"] += tally.wins_a + tally.wins_b + tally.ties + tally.both_bad
                row["wins"] += wins
                row["losses"] += losses
                row["ties"] += tally.ties
                row["both_bad"] += tally.both_bad
    _, counts, _ = run.pairs.table()
    overlapping = counts[counts.sum(axis=1) >= 2]
    return CardFacts(
        title=spec.title, license=spec.license, shape=spec.shape, created_at=now, code_version=code_version(),
        data_files=[path.relative_to(run.folder).as_posix() for path in run.writers.paths.values()],
        rows=run.rows, votes=run.votes, pairs=len(counts), systems=dict(sorted(per_system.items())),
        axes={name: n for name, n in run.axis_answers.items() if name == "overall" or name in spec.axes},
        overlapping_pairs=overlapping, boards=boards,
        filters={
            "sources": list(spec.sources), "since": spec.since.isoformat() if spec.since else None,
            "until": spec.until.isoformat() if spec.until else None, "axes": list(spec.axes),
            "include_flagged": spec.include_flagged, "min_votes": spec.min_votes,
            "include_feedback": spec.include_feedback,
            "embargo_days": spec.embargo.total_seconds() / 86400 if spec.embargo is not None else None,
        },
        bundle=spec.bundle,
    )


def _audio_copy(run: _Run) -> None:
    """The delivery copies of every clip and reference the rows name, under those relative paths."""
    for public_id, name in Clip.objects.filter(pk__in=run.clips_named).values_list("public_id", "delivery"):
        _storage_copy(name, run.folder / clip_path(public_id))
    for prompt_id, name in Prompt.objects.filter(pk__in=run.prompts_named).values_list("id", "reference_audio"):
        _storage_copy(name, run.folder / reference_path(prompt_id))


def _storage_copy(name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with default_storage.open(name, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


MANIFEST = "MANIFEST.sha256"


def manifest_write(folder: Path) -> list[str]:
    """sha256 of every file under the folder (but the manifest), as `sha256sum -c` reads it; the files listed."""
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file() and
                   path.name != MANIFEST)
    lines = [f"{_sha256(folder / name)}  {name}" for name in files]
    (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [*files, MANIFEST]


def export_run(
    *,
    spec: ExportSpec,
    destination: Path,
    progress: ExportProgress | None = None,
    now: datetime | None = None,
    salt: bytes | None = None,
) -> ExportResult:
    """Write the export into `destination` (a folder that must not exist yet) and return what was written.

    ExportInvalid for a bad spec or destination, before anything is written; ExportFailed when writing fails, after
    removing everything written so far.
    """
    spec = spec.validated()
    destination = Path(destination)
    if destination.exists():
        raise ExportInvalid(f"{destination} already exists: exports never overwrite.", field="destination")
    if not destination.parent.is_dir():
        raise ExportInvalid(f"{destination.parent} is not a folder.", field="destination")
    now = now or timezone.now()
    partial = destination.parent / f".{destination.name}.partial-{secrets.token_hex(4)}"
    partial.mkdir()
    bundle: Path | None = None
    try:
        run = _Run(spec, partial, _lookups(salt if salt is not None else secrets.token_bytes(32)), progress)
        # One consistent view of the votes for the rows, their count and the boards they reproduce (inside a
        # caller's transaction, e.g. a test's, that transaction's own isolation applies).
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if connection.vendor == "postgresql" and outermost:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            selected = [(source, _votes(spec, source, now)) for source in spec.sources]
            keeps = [_pairs_with_enough_votes(votes, spec.min_votes) for _, votes in selected]
            run.total = sum(votes.count() for _, votes in selected)
            for (source, votes), keep in zip(selected, keeps, strict=True):
                run.source(source, votes, keep)
            if spec.shape == Shape.PAIRS:
                run.pairs_write()
            run.writers.close()
            boards = _boards(run)
        (partial / "board.json").write_text(json.dumps(boards, indent=2, sort_keys=True), encoding="utf-8")
        if spec.bundle:
            _audio_copy(run)
        card_write(partial, _card_facts(run, boards, now))
        files = manifest_write(partial)
        os.replace(partial, destination)
        if spec.bundle:
            bundle = _tar(destination)
    except (ExportInvalid, ExportFailed):
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExportFailed(f"The export failed and left nothing behind: {exc}", reason=type(exc).__name__) from exc
    return ExportResult(destination, files, run.rows, run.votes, boards, bundle, _sha256(bundle) if bundle else "")


def _tar(folder: Path) -> Path:
    """The export folder as one tar (audio files are already compressed), written beside it, complete or absent."""
    target = folder.with_name(folder.name + ".tar")
    partial = folder.with_name(f".{folder.name}.tar.partial-{secrets.token_hex(4)}")
    try:
        with tarfile.open(partial, "w") as archive:
            archive.add(folder, arcname=folder.name)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target

