"""Explicit pair lists for a campaign (CSV with a header, or JSONL): each line checked against the catalogue, every
bad line named, and nothing accepted unless every line is good."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotation.errors import BuildRefused
from annotation.models import CampaignPair
from arena.models import Clip, Prompt, System

Kind = CampaignPair.Kind
SOURCE_SUFFIXES = (".csv", ".jsonl")
MAX_REFUSALS_SHOWN = 50


@dataclass(frozen=True)
class PlannedPair:
    prompt_id: int
    clip_a_id: int
    clip_b_id: int
    kind: str = Kind.REGULAR


def _source_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, the row: a dict, or a string saying why the line is not one) for each non-blank line."""
    suffix = path.suffix.lower()
    if suffix not in SOURCE_SUFFIXES:
        raise BuildRefused(f"{path.name}: a pair list must be .csv or .jsonl")
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise BuildRefused(f"{path}: the file cannot be read ({exc.strerror})") from exc
    with handle:
        try:
            if suffix == ".csv":
                reader = csv.DictReader(handle)
                for row in reader:
                    if any((value or "").strip() for value in row.values() if isinstance(value, str)):
                        yield reader.line_num, row
                return
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
                    continue
                yield number, entry if isinstance(entry, dict) else "each line must be a JSON object"
        except UnicodeDecodeError as exc:
            raise BuildRefused(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key} must be a string, not {json.dumps(value)[:40]}")
    return str(value).strip()


def _source_line(entry: Mapping[str, Any]) -> PlannedPair:
    """One line of a pair list as a planned pair; raises ValueError saying what is wrong with it."""
    if None in entry:  # csv: more fields than the header names
        raise ValueError("more fields than the header names")
    kind = _text(entry, "kind") or Kind.REGULAR
    if kind not in (Kind.REGULAR, Kind.PRACTICE):
        raise ValueError(f"kind must be regular or practice, not {kind!r}")
    prompt_text = _text(entry, "prompt_id")
    prompt_id: int | None = None
    if prompt_text:
        if not prompt_text.isdigit() or not 1 <= int(prompt_text) < 2**63:
            raise ValueError(f"prompt_id must be a positive integer id, not {prompt_text[:40]!r}")
        prompt_id = int(prompt_text)
        if not Prompt.objects.filter(pk=prompt_id).exists():
            raise ValueError(f"prompt {prompt_id} does not exist")
    by_clip = _text(entry, "clip_a"), _text(entry, "clip_b")
    by_system = _text(entry, "system_a"), _text(entry, "system_b")
    if any(by_clip) and any(by_system):
        raise ValueError("give clip_a/clip_b or system_a/system_b, not both")
    if any(by_clip):
        if not all(by_clip):
            raise ValueError("both clip_a and clip_b are needed")
        clips = []
        for side, public_id in zip("ab", by_clip, strict=True):
            clip = Clip.objects.filter(public_id=public_id).first()
            if clip is None:
                raise ValueError(f"clip_{side} {public_id!r} does not exist")
            if not clip.active:
                raise ValueError(f"clip_{side} {public_id!r} is not active")
            clips.append(clip)
        if clips[0].prompt_id != clips[1].prompt_id:
            raise ValueError("clip_a and clip_b are clips of different prompts")
        if prompt_id is not None and clips[0].prompt_id != prompt_id:
            raise ValueError(f"the clips are not clips of prompt {prompt_id}")
    elif any(by_system):
        if not all(by_system):
            raise ValueError("both system_a and system_b are needed")
        if prompt_id is None:
            raise ValueError("a line naming systems needs a prompt_id")
        clips = []
        for side, key in zip("ab", by_system, strict=True):
            system = System.objects.filter(slug=key).first()
            if system is None:
                raise ValueError(f"system_{side} {key!r} does not exist")
            clip = Clip.objects.filter(prompt_id=prompt_id, system=system, active=True).order_by("id").first()
            if clip is None:
                raise ValueError(f"prompt {prompt_id} has no active clip of system {key!r}")
            clips.append(clip)
    else:
        raise ValueError("each line needs clip_a and clip_b (clip ids), or prompt_id with system_a and system_b")
    if clips[0].pk == clips[1].pk:
        raise ValueError("clip_a and clip_b are the same clip")
    return PlannedPair(clips[0].prompt_id, clips[0].pk, clips[1].pk, kind=kind)


def pairs_from_file(*, path: Path) -> list[PlannedPair]:
    """Every line of a CSV (with a header) or JSONL pair list as a planned pair, in the file's order and sides.
    Any bad line refuses the whole list: BuildRefused names each one (`details["lines"]`)."""
    planned: list[PlannedPair] = []
    refusals: list[str] = []
    seen: dict[frozenset[int], int] = {}
    for number, entry in _source_rows(path):
        try:
            if isinstance(entry, str):
                raise ValueError(entry)
            plan = _source_line(entry)
            key = frozenset((plan.clip_a_id, plan.clip_b_id))
            if key in seen:
                raise ValueError(f"the same pair as line {seen[key]}")
            seen[key] = number
            planned.append(plan)
        except ValueError as exc:
            refusals.append(f"line {number}: {exc}")
    if refusals:
        shown = refusals[:MAX_REFUSALS_SHOWN]
        more = len(refusals) - len(shown)
        raise BuildRefused(
            f"{path.name}: {len(refusals)} bad line(s), nothing written:\n" + "\n".join(shown)
            + (f"\n… and {more} more" if more else ""),
            lines=refusals,
        )
    if not planned:
        raise BuildRefused(f"{path.name}: no pairs in the file")
    return planned
