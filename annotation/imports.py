"""Import of public preference datasets (Music Arena's battle records, CMI-Pref's rows) from a local folder.

Each row becomes real arena rows: systems and prompts (found or made), both clips (through arena.ingest.clip_import:
decoded, measured, normalised; the same audio twice is the same clip), a Battle of mode "imported", voted, and its
Vote, tied to the row by an ImportedVote. A row is imported whole or refused whole, with the reason; a row already
imported (same source and row) is skipped. It decodes audio (torch): only management commands import it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from annotation.models import ImportedVote, ImportSource
from arena import audio
from arena.errors import ClipRefused
from arena.ingest import clip_import, reference_audio_encode
from arena.models import Battle, Choice, Clip, Prompt, Rater, System, Vote
from arena.services.uploads import system_find

FORMATS = ("music-arena", "cmi-pref")
MAX_MS = 2**31 - 1  # a PositiveIntegerField

_MUSIC_ARENA_CHOICES = {"a": Choice.A, "b": Choice.B, "tie": Choice.TIE, "both_bad": Choice.BOTH_BAD}
# CMI-Pref publishes "model_a" / "model_b"; the other spellings are accepted too (NOTES.md).
_CMI_CHOICES = {
    "model_a": Choice.A, "model_b": Choice.B, "a": Choice.A, "b": Choice.B, "audio1": Choice.A, "audio2": Choice.B,
    "audio_a": Choice.A, "audio_b": Choice.B, "1": Choice.A, "2": Choice.B,
}
_CMI_USER_FIELDS = ("user_id", "hashed_user_id", "user-id", "user", "annotator", "annotator_id", "uid")


class RowRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowOutcome:
    where: str  # "file line N" or "file record UUID"
    status: str  # imported | skipped | refused
    message: str


@dataclass
class ImportReport:
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


@dataclass(frozen=True)
class RawRow:
    file: str  # relative to the folder
    line: int
    text: str


@dataclass
class ParsedRow:
    """One vote of a source, in Earshot's terms, before anything is written."""

    key: str
    system_a: str
    system_b: str
    prompt_text: str
    lyrics: str
    audio_a: Path
    audio_b: Path
    reference: Path | None
    choice: str
    musicality: str = ""
    prompt_alignment: str = ""
    ms_played_a: int = 0
    ms_played_b: int = 0
    reason: str = ""
    rater_key: str = ""
    voted_at: datetime | None = None


# ---------------------------------------------------------------------------------------------------------------
# Reading the folder


def rows_of(folder: Path, fmt: str) -> list[RawRow]:
    """Every row of the folder in the format's files, in a stable order (empty lines left out)."""
    if fmt == "cmi-pref":
        whole = folder / "cmi_data.jsonl"  # cmi_train / cmi_test are subsets of it: read it alone when present
        files = [whole] if whole.is_file() else sorted(folder.glob("*.jsonl"))
    else:
        files = sorted(path for path in folder.rglob("*") if path.suffix in (".json", ".jsonl") and path.is_file())
    rows: list[RawRow] = []
    for path in files:
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".json":
            rows.append(RawRow(name, 1, path.read_text(encoding="utf-8", errors="replace")))
            continue
        with path.open(encoding="utf-8", errors="replace") as handle:
            rows += [RawRow(name, number, raw) for number, raw in enumerate(handle, start=1) if raw.strip()]
    return rows


def _inside(folder: Path, relative: Any, what: str, base: Path | None = None) -> Path:
    if not isinstance(relative, str) or not relative.strip():
        raise RowRefused(f"'{what}' is missing")
    for start in (base, folder) if base is not None else (folder,):
        candidate = (start / relative).resolve()
        if not candidate.is_relative_to(folder):
            raise RowRefused(f"'{what}' {relative!r} leaves the folder")
        if candidate.is_file():
            return candidate
    raise RowRefused(f"'{what}' {relative!r}: no such file in the folder")


def _music_arena_audio(folder: Path, base: Path, url: Any, what: str) -> Path:
    """A clip's file: `a_audio_url` as a path relative to the record (or the folder), or, for a URL, its path or
    its file name in the folder or in an `audio/` folder beside the records."""
    if not isinstance(url, str) or not url.strip():
        raise RowRefused(f"'{what}' is missing")
    parts = urlsplit(url)
    if not parts.scheme:
        return _inside(folder, url, what, base)
    path = unquote(parts.path).lstrip("/")
    name = Path(path).name
    for relative in (path, name, f"audio/{name}"):
        if not relative:
            continue
        candidate = (folder / relative).resolve()
        if candidate.is_relative_to(folder) and candidate.is_file():
            return candidate
    raise RowRefused(f"'{what}' {url!r}: no file {name!r} in the folder")


def _object(row: RawRow) -> dict[str, Any]:
    try:
        entry = json.loads(row.text)
    except json.JSONDecodeError as exc:
        raise RowRefused(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    if not isinstance(entry, dict):
        raise RowRefused("a row must be a JSON object")
    return entry


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _listened_ms(events: Any, what: str) -> int:
    """Music Arena's listening time: the sum of PLAY→PAUSE, PLAY→STOP and PLAY→TICK spans (a TICK goes on)."""
    if events in (None, []):
        return 0
    if not isinstance(events, list):
        raise RowRefused(f"'{what}' must be a list of [event, time]")
    total = 0.0
    playing_since: float | None = None
    for event in events:
        if not (isinstance(event, list | tuple) and len(event) == 2 and isinstance(event[1], int | float)):
            raise RowRefused(f"'{what}' must be a list of [event, time]")
        name, at = str(event[0]).upper(), float(event[1])
        if name == "PLAY":
            playing_since = at if playing_since is None else playing_since
        elif name in ("PAUSE", "STOP", "TICK") and playing_since is not None:
            total += max(0.0, at - playing_since)
            playing_since = at if name == "TICK" else None
    return min(MAX_MS, round(total * 1000))


def _system_name(metadata: Any, side: str) -> str:
    key = metadata.get("system_key") if isinstance(metadata, dict) else None
    if isinstance(key, dict):
        tag, variant = _text(key.get("system_tag")).strip(), _text(key.get("variant_tag")).strip()
        if tag:
            return f"{tag}:{variant}" if variant else tag
    if isinstance(key, str) and key.strip():
        return key.strip()
    raise RowRefused(f"'{side}_metadata.system_key' is missing (an anonymised record names no system)")


def parse_music_arena(folder: Path, row: RawRow) -> ParsedRow:
    entry = _object(row)
    key = _text(entry.get("uuid")).strip() or f"{row.file}:{row.line}"
    base = (folder / row.file).parent
    detailed = _mapping(entry.get("prompt_detailed"))
    prompt = entry.get("prompt")
    text = _text(detailed.get("overall_prompt")) or _text(prompt.get("prompt") if isinstance(prompt, dict) else prompt)
    if not text.strip():
        raise RowRefused("'prompt.prompt' (or 'prompt_detailed.overall_prompt') is missing")
    vote = entry.get("vote")
    if not isinstance(vote, dict):
        raise RowRefused("'vote' is missing")
    preference = vote.get("preference")
    choice = _MUSIC_ARENA_CHOICES.get(str(preference).strip().lower()) if isinstance(preference, str) else None
    if choice is None:
        raise RowRefused(f"'vote.preference' {preference!r} is not one of A, B, TIE, BOTH_BAD")
    user = _mapping(entry.get("vote_user"))
    rater = _text(user.get("salted_fingerprint")) or _text(user.get("salted_ip"))
    voted = vote.get("preference_time")
    return ParsedRow(
        key=key,
        system_a=_system_name(entry.get("a_metadata"), "a"),
        system_b=_system_name(entry.get("b_metadata"), "b"),
        prompt_text=text,
        lyrics=_text(detailed.get("lyrics")),
        audio_a=_music_arena_audio(folder, base, entry.get("a_audio_url"), "a_audio_url"),
        audio_b=_music_arena_audio(folder, base, entry.get("b_audio_url"), "b_audio_url"),
        reference=None,
        choice=choice,
        ms_played_a=_listened_ms(vote.get("a_listen_data"), "vote.a_listen_data"),
        ms_played_b=_listened_ms(vote.get("b_listen_data"), "vote.b_listen_data"),
        reason=_text(vote.get("feedback")),
        rater_key=rater,
        voted_at=_epoch(voted),
    )


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**33:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _cmi_choice(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if value is None or value == "":
        return ""
    choice = _CMI_CHOICES.get(str(value).strip().lower()) if isinstance(value, str | int) else None
    if choice is None or isinstance(value, bool):
        raise RowRefused(f"'{name}' {value!r} is not model_a or model_b")
    return choice


def _seconds_ms(entry: dict[str, Any], name: str) -> int:
    value = entry.get(name)
    if value is None or value == "":
        return 0
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise RowRefused(f"'{name}' {value!r} is not a number of seconds") from exc
    if not 0 <= seconds < MAX_MS / 1000:
        raise RowRefused(f"'{name}' {value!r} is not a listening time in seconds")
    return round(seconds * 1000)


def parse_cmi_pref(folder: Path, row: RawRow) -> ParsedRow:
    entry = _object(row)
    musicality = _cmi_choice(entry, "preference-musicality")
    alignment = _cmi_choice(entry, "preference-alignment")
    if not musicality and not alignment:
        raise RowRefused("'preference-musicality' and 'preference-alignment' are both missing")
    systems = []
    for name in ("model_a", "model_b"):
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            raise RowRefused(f"'{name}' is missing")
        systems.append(value.strip())
    reference = entry.get("ref-audio-path")
    rater = next((str(entry[name]) for name in _CMI_USER_FIELDS if entry.get(name) not in (None, "")), "")
    return ParsedRow(
        key=f"{row.file}:{row.line}",
        system_a=systems[0],
        system_b=systems[1],
        prompt_text=_text(entry.get("prompt")),
        lyrics=_text(entry.get("lyrics")),
        audio_a=_inside(folder, entry.get("audio-path"), "audio-path"),
        audio_b=_inside(folder, entry.get("audio2"), "audio2"),
        reference=_inside(folder, reference, "ref-audio-path") if reference else None,
        # No overall label in CMI-Pref: the overall choice is the musicality preference (alignment when it is absent).
        choice=musicality or alignment,
        musicality=musicality,
        prompt_alignment=alignment,
        ms_played_a=_seconds_ms(entry, "total_listening_time_a"),
        ms_played_b=_seconds_ms(entry, "total_listening_time_b"),
        reason=_text(entry.get("feedback")),
        rater_key=rater,
    )


PARSERS: dict[str, Callable[[Path, RawRow], ParsedRow]] = {"music-arena": parse_music_arena, "cmi-pref": parse_cmi_pref}


# ---------------------------------------------------------------------------------------------------------------
# Writing one row


def source_ensure(*, slug: str, fmt: str, name: str = "") -> ImportSource:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,59}", slug):
        raise ValueError(f"{slug!r} is not a source slug (lower-case letters, digits, - and _, at most 60)")
    source, created = ImportSource.objects.get_or_create(slug=slug, defaults={"format": fmt, "name": name})
    if not created and source.format != fmt:
        raise ValueError(f"source {slug!r} was imported as {source.format}, not {fmt}")
    if name and source.name != name:
        source.name = name
        source.save(update_fields=["name"])
    return source


def _system(name: str) -> System:
    system = system_find(name) or system_find(slugify(name))
    if system is not None:
        return system
    slug = slugify(name.replace(":", "-"))[:120] or "system"
    if System.objects.filter(slug=slug).exists():
        slug = f"{slug[:110]}-{System.objects.count()}"
    return System.objects.create(name=name[:120], slug=slug)


def _prompt(source: ImportSource, parsed: ParsedRow, written: list[str]) -> Prompt:
    label = f"imported:{source.slug}"
    if parsed.reference is not None:  # prompts that differ only by their reference audio stay apart
        label += f" ref {audio.sha256_of(parsed.reference)[:16]}"
    prompt = Prompt.objects.filter(text=parsed.prompt_text, lyrics=parsed.lyrics, source=label).first()
    if prompt is not None:
        return prompt
    prompt = Prompt.objects.create(text=parsed.prompt_text, lyrics=parsed.lyrics, source=label, tags=[label])
    if parsed.reference is not None:
        try:
            encoded = reference_audio_encode(path=parsed.reference, name=parsed.reference.name)
        except ClipRefused as exc:
            raise RowRefused(f"'ref-audio-path': {exc.message}") from exc
        stored = default_storage.save(f"references/{encoded.name}", encoded)
        written.append(stored)
        prompt.reference_audio = stored
        prompt.save(update_fields=["reference_audio"])
    return prompt


def _clip(system: System, prompt: Prompt, path: Path, folder: Path, written: list[str]) -> Clip:
    name = path.relative_to(folder).as_posix()
    existing = Clip.objects.filter(sha256=audio.sha256_of(path)).select_related("system").first()
    if existing is not None:  # the same audio again is the same clip, whatever prompt it came with
        if existing.system_id != system.pk:
            raise RowRefused(f"{name}: the same audio is already a clip of {existing.system.name!r}")
        return existing
    try:
        clip, created = clip_import(system=system, prompt=prompt, path=path, original_name=name)
    except ClipRefused as exc:
        raise RowRefused(exc.message) from exc
    if created:
        written += [str(clip.original.name), str(clip.delivery.name)]
    return clip


def _rater(source: ImportSource, key: str) -> Rater:
    external_id = f"{source.slug}:{key or 'anonymous'}"[:200]
    rater = Rater.objects.filter(external_id=external_id, user__isnull=True).order_by("id").first()
    return rater or Rater.objects.create(external_id=external_id)


def row_import(*, folder: Path, source: ImportSource, parsed: ParsedRow) -> str:
    """Write one parsed row (all or nothing); returns the vote's battle id. RowRefused says why it cannot be."""
    if parsed.audio_a == parsed.audio_b or audio.sha256_of(parsed.audio_a) == audio.sha256_of(parsed.audio_b):
        raise RowRefused("the same clip is on both sides")
    if parsed.system_a == parsed.system_b:
        raise RowRefused(f"both sides are the same system {parsed.system_a!r}")
    written: list[str] = []
    try:
        with transaction.atomic():
            prompt = _prompt(source, parsed, written)
            system_a, system_b = _system(parsed.system_a), _system(parsed.system_b)
            clip_a = _clip(system_a, prompt, parsed.audio_a, folder, written)
            clip_b = _clip(system_b, prompt, parsed.audio_b, folder, written)
            voted_at = parsed.voted_at or timezone.now()
            battle = Battle.objects.create(
                rater=_rater(source, parsed.rater_key), prompt=prompt, clip_a=clip_a, clip_b=clip_b,
                mode=Battle.Mode.IMPORTED, status=Battle.Status.VOTED, expires_at=voted_at,
                ms_played_a=parsed.ms_played_a, ms_played_b=parsed.ms_played_b,
            )
            vote = Vote.objects.create(
                battle=battle, rater=battle.rater, system_a=system_a, system_b=system_b, prompt=prompt,
                choice=parsed.choice, musicality=parsed.musicality, prompt_alignment=parsed.prompt_alignment,
                reason=parsed.reason, ms_played_a=parsed.ms_played_a, ms_played_b=parsed.ms_played_b,
            )
            if parsed.voted_at is not None:  # the source's time, so exports' since/until read it
                Battle.objects.filter(pk=battle.pk).update(created_at=parsed.voted_at)
                Vote.objects.filter(pk=vote.pk).update(created_at=parsed.voted_at)
            ImportedVote.objects.create(vote=vote, source=source, source_row=parsed.key[:300])
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return str(battle.public_id)


def folder_import(
    *, folder: Path, fmt: str, source: ImportSource, progress: Callable[[RowOutcome], None] | None = None,
    rows: list[RawRow] | None = None,
) -> ImportReport:
    """Import every row of the folder; each is imported, skipped (already there) or refused with its reason."""
    folder = folder.resolve()
    parse = PARSERS[fmt]
    report = ImportReport()
    done = set(ImportedVote.objects.filter(source=source).values_list("source_row", flat=True))
    for row in rows if rows is not None else rows_of(folder, fmt):
        outcome = _one(folder, source, parse, row, done)
        report.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return report


def _record_id(row: RawRow) -> str:
    """A row's own id (Music Arena's `uuid`), to name it in a refusal; empty when it has none."""
    try:
        entry = json.loads(row.text)
    except json.JSONDecodeError:
        return ""
    uuid = entry.get("uuid") if isinstance(entry, dict) else None
    return uuid.strip()[:100] if isinstance(uuid, str) else ""


def _one(
    folder: Path, source: ImportSource, parse: Callable[[Path, RawRow], ParsedRow], row: RawRow, done: set[str]
) -> RowOutcome:
    record = _record_id(row)
    where = f"{row.file} record {record}" if record else f"{row.file} line {row.line}"
    try:
        parsed = parse(folder, row)
        if parsed.key[:300] in done:
            return RowOutcome(where, "skipped", "already imported")
        battle = row_import(folder=folder, source=source, parsed=parsed)
    except RowRefused as exc:
        return RowOutcome(where, "refused", exc.message)
    except DataError as exc:  # e.g. a NUL in a text: PostgreSQL refuses the row, the run goes on
        return RowOutcome(where, "refused", f"the database refused the row ({str(exc).strip()[:200]})")
    except IntegrityError as exc:  # another run imported the same row (or made the same system) meanwhile
        if ImportedVote.objects.filter(source=source, source_row=parsed.key[:300]).exists():
            return RowOutcome(where, "skipped", "already imported")
        return RowOutcome(where, "refused", f"the database refused the row ({str(exc).strip()[:200]})")
    done.add(parsed.key[:300])
    return RowOutcome(where, "imported", f"battle {battle}")
