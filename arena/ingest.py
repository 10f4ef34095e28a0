"""Ingest of clips: one file at a time (an admin's upload, run by the worker) or a JSONL manifest; every refused file
leaves nothing behind.

It decodes, measures and encodes (arena.audio_processing, torch): only Celery workers and management commands
import it. The web half of an upload (form checks, staging, the job) is arena.services.uploads.
"""
from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from arena import audio, audio_processing, hooks
from arena.errors import ClipRefused
from arena.models import Clip, ClipUpload, Prompt, System
from arena.services.uploads import system_find

logger = logging.getLogger(__name__)
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".opus"}


@dataclass(frozen=True)
class ImportOutcome:
    line: int
    source: str
    status: str  # imported | skipped | refused
    message: str
    clip_id: int | None = None


@dataclass
class ImportSummary:
    outcomes: list[ImportOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def imported(self) -> int:
        return self.count("imported")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def refused(self) -> int:
        return self.count("refused")


def clip_import(
    *, system: System, prompt: Prompt, path: Path, original_name: str = ""
) -> tuple[Clip, bool]:
    """Validate, normalise and store one audio file as a Clip of `system` for `prompt`.

    Returns (clip, created). The same file for the same system and prompt again is not an error: it returns the
    existing clip with created=False. Anything else wrong raises ClipRefused and leaves no row and no file.
    """
    name = original_name or path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ClipRefused("missing", f"{name}: the file cannot be read ({exc.strerror})") from exc
    limit = settings.EARSHOT_MAX_UPLOAD_BYTES
    if size > limit:
        raise ClipRefused("too_large", f"{name}: {size} bytes is larger than the limit of {limit} bytes")
    digest = audio.sha256_of(path)
    existing = Clip.objects.filter(sha256=digest).select_related("system", "prompt").first()
    if existing is not None:
        if existing.system_id == system.pk and existing.prompt_id == prompt.pk:
            return existing, False
        raise ClipRefused(
            "duplicate", f"{name}: the same audio (sha256 {digest[:12]}…) is already clip {existing.public_id}"
        )
    try:
        decoded = audio.decode(path, max_seconds=settings.EARSHOT_MAX_CLIP_SECONDS,
                               max_decoded_bytes=settings.EARSHOT_MAX_DECODED_BYTES)
        loudness = audio_processing.integrated_loudness(decoded.samples, decoded.sample_rate)
        delivery = audio_processing.delivery_copy(
            decoded,
            target_lufs=settings.EARSHOT_TARGET_LUFS,
            bitrate_kbps=settings.EARSHOT_DELIVERY_BITRATE_KBPS,
            measured_lufs=loudness,
        )
    except audio.AudioProblem as exc:
        raise ClipRefused(exc.code, f"{name}: {exc}") from exc

    stem = secrets.token_hex(16)
    suffix = path.suffix.lower() if path.suffix.lower() in AUDIO_SUFFIXES else ".bin"
    written: list[str] = []
    try:
        with path.open("rb") as handle:
            written.append(default_storage.save(f"originals/{stem}{suffix}", ContentFile(handle.read())))
        written.append(default_storage.save(delivery_name(), ContentFile(delivery.data)))
        with transaction.atomic():
            clip = Clip.objects.create(
                system=system,
                prompt=prompt,
                original=written[0],
                delivery=written[1],
                original_name=name[:255],
                duration_s=decoded.duration_s,
                sample_rate=decoded.sample_rate,
                channels=decoded.channels,
                sha256=digest,
                loudness_lufs=loudness,
                delivery_lufs=delivery.lufs,
                delivery_frame_bytes=delivery.frame_bytes,
            )
    except IntegrityError as exc:
        _delete(written)
        raise ClipRefused("duplicate", f"{name}: the same audio was imported at the same moment") from exc
    except BaseException:
        _delete(written)
        raise
    _queue_scoring(clip)
    return clip, True


def delivery_name() -> str:
    """A new opaque name for a delivery file (random: nothing in it ties the file to its clip)."""
    return f"delivery/{secrets.token_hex(16)}.mp3"


def clip_delivery_reencode(*, clip: Clip) -> Clip:
    """Encode the clip's delivery file again from its original, in today's delivery layout (existing clips).

    The new file is written first and the row switched to it in a transaction; the old file is deleted only once
    that committed, so an open battle always has a file to play. The loudness is measured again.
    """
    with ExitStack() as stack:
        try:
            path = Path(clip.original.path)
        except NotImplementedError:  # storage without local paths: decode a temporary copy
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="earshot-reencode-")))
            path = folder / f"original{Path(clip.original.name or '').suffix}"
            with clip.original.open("rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        try:
            decoded = audio.decode(path, max_seconds=settings.EARSHOT_MAX_CLIP_SECONDS,
                                   max_decoded_bytes=settings.EARSHOT_MAX_DECODED_BYTES)
            delivery = audio_processing.delivery_copy(
                decoded,
                target_lufs=settings.EARSHOT_TARGET_LUFS,
                bitrate_kbps=settings.EARSHOT_DELIVERY_BITRATE_KBPS,
                measured_lufs=clip.loudness_lufs,
            )
        except audio.AudioProblem as exc:
            raise ClipRefused(exc.code, f"clip {clip.public_id}: {exc}") from exc
    old = clip.delivery.name
    new = default_storage.save(delivery_name(), ContentFile(delivery.data))
    try:
        with transaction.atomic():
            clip.delivery = new
            clip.delivery_lufs = delivery.lufs
            clip.delivery_frame_bytes = delivery.frame_bytes
            clip.save(update_fields=["delivery", "delivery_lufs", "delivery_frame_bytes"])
            transaction.on_commit(lambda: default_storage.delete(old) if old else None)
    except BaseException:
        default_storage.delete(new)
        raise
    return clip


def reference_audio_encode(*, path: Path, name: str = "") -> ContentFile[bytes]:
    """A prompt's reference audio, checked by the same decode as clips and re-encoded like their delivery copy
    (loudness-normalised, no tag of the original): the file to store, under a random name. Raises ClipRefused."""
    label = name or path.name
    size, limit = path.stat().st_size, settings.EARSHOT_MAX_UPLOAD_BYTES
    if size > limit:
        raise ClipRefused(
            "too_large", f"reference audio {label}: {size} bytes is larger than the limit of {limit} bytes"
        )
    try:
        decoded = audio.decode(path, max_seconds=settings.EARSHOT_MAX_CLIP_SECONDS,
                               max_decoded_bytes=settings.EARSHOT_MAX_DECODED_BYTES)
        delivery = audio_processing.delivery_copy(
            decoded, target_lufs=settings.EARSHOT_TARGET_LUFS, bitrate_kbps=settings.EARSHOT_DELIVERY_BITRATE_KBPS
        )
    except audio.AudioProblem as exc:
        raise ClipRefused(exc.code, f"reference audio {label}: {exc}") from exc
    return ContentFile(delivery.data, name=f"{secrets.token_hex(16)}.mp3")


def _delete(names: list[str]) -> None:
    for stored in names:
        default_storage.delete(stored)


def _queue_scoring(clip: Clip) -> None:
    """Tell the apps that react to new clips (the reward model scores them in Celery once the row is committed)."""
    hooks.clips_imported([clip.pk])


MAX_ROW_ID = 2**63 - 1  # a bigint primary key


def _prompt_id(value: Any) -> int:
    """A manifest's prompt_id as an id the database can look up (an integer, or a string of digits)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROW_ID:
        raise ClipRefused("bad_line", f"prompt_id must be a positive integer id, not {json.dumps(value)[:40]}")
    return value


def _prompt_for(entry: dict[str, Any]) -> Prompt:
    if entry.get("prompt_id") is not None:
        prompt_id = _prompt_id(entry["prompt_id"])
        prompt = Prompt.objects.filter(pk=prompt_id).first()
        if prompt is None:
            raise ClipRefused("unknown_prompt", f"prompt_id {prompt_id} does not exist")
        return prompt
    text = entry.get("prompt")
    if not isinstance(text, str) or not text.strip():
        raise ClipRefused("bad_line", "each line needs a non-empty 'prompt' text or a 'prompt_id'")
    lyrics = entry.get("lyrics") or ""
    prompt = Prompt.objects.filter(text=text, lyrics=lyrics).first()
    if prompt is None:
        prompt = Prompt(
            text=text,
            lyrics=lyrics,
            tags=list(entry.get("tags") or []),
            language=str(entry.get("language") or "en")[:16],
            source=str(entry.get("source") or "")[:200],
        )
    return prompt


def _resolve_inside(root: Path, relative: Any, what: str) -> Path:
    if not isinstance(relative, str) or not relative:
        raise ClipRefused("bad_line", f"'{what}' must be a path relative to the manifest")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        raise ClipRefused("path_escapes", f"{relative}: the path leaves the manifest's folder")
    if not candidate.is_file():
        raise ClipRefused("missing", f"{relative}: no such file next to the manifest")
    return candidate


def manifest_lines(manifest: Path) -> Iterator[tuple[int, str]]:
    with manifest.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def manifest_import(
    *,
    manifest: Path,
    create_systems: bool = False,
    progress: Callable[[ImportOutcome], None] | None = None,
) -> ImportSummary:
    """Import every line of a JSONL manifest; each line is imported whole or refused whole."""
    root = manifest.resolve().parent
    summary = ImportSummary()
    for number, raw in manifest_lines(manifest):
        outcome = _import_line(root=root, number=number, raw=raw, create_systems=create_systems)
        summary.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return summary


def _import_line(*, root: Path, number: int, raw: str, create_systems: bool) -> ImportOutcome:
    source = f"line {number}"
    try:
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ClipRefused("bad_line", f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(entry, dict):
            raise ClipRefused("bad_line", "each line must be a JSON object")
        source = str(entry.get("audio") or source)
        audio_path = _resolve_inside(root, entry.get("audio"), "audio")
        reference = entry.get("reference_audio")
        reference_path = _resolve_inside(root, reference, "reference_audio") if reference else None
        with transaction.atomic():
            system = _system_for(entry, create=create_systems)
            prompt = _prompt_for(entry)
            new_prompt = prompt.pk is None
            if new_prompt:
                prompt.save()
            stored_reference = None
            if reference_path is not None and not prompt.reference_audio:
                encoded = reference_audio_encode(path=reference_path, name=str(reference))
                stored_reference = default_storage.save(f"references/{encoded.name}", encoded)
                prompt.reference_audio = stored_reference
                prompt.save(update_fields=["reference_audio"])
            try:
                clip, created = clip_import(system=system, prompt=prompt, path=audio_path, original_name=source)
            except BaseException:
                if stored_reference:
                    default_storage.delete(stored_reference)
                raise
    except ClipRefused as exc:
        return ImportOutcome(number, source, "refused", exc.message)
    except DataError as exc:  # e.g. a NUL in a prompt's text: PostgreSQL refuses the row, the run goes on
        return ImportOutcome(number, source, "refused", f"the database refused the line ({str(exc).strip()[:200]})")
    if not created:
        return ImportOutcome(number, source, "skipped", "already imported", clip.pk)
    return ImportOutcome(number, source, "imported", f"clip {clip.public_id}", clip.pk)


def clip_upload(
    *,
    system_key: str,
    path: Path,
    original_name: str,
    prompt_id: int | None = None,
    prompt_text: str = "",
    lyrics: str = "",
    language: str = "en",
) -> tuple[Clip, bool]:
    """Import one uploaded file (the admin API, in the worker): the same checks as a manifest line, whole or not at
    all."""
    entry: dict[str, Any] = {"system": system_key, "prompt_id": prompt_id, "prompt": prompt_text,
                             "lyrics": lyrics, "language": language}
    with transaction.atomic():
        system = _system_for(entry, create=False)
        prompt = _prompt_for(entry)
        if prompt.pk is None:
            prompt.save()
        return clip_import(system=system, prompt=prompt, path=path, original_name=original_name)


def clip_upload_process(*, upload_id: int) -> ClipUpload | None:
    """Run a queued admin upload (arena.tasks.clip_upload_task): import its staged file with `clip_upload`, record
    the outcome, delete the staged file once that is committed.

    Idempotent: a finished upload is left as it is, so a redelivered message does nothing; one that died half-way
    (its transaction committed nothing, the staged file is still there) runs again from the start. A second
    delivery running at the same moment waits on the upload's row lock and then finds it finished. A database
    outage is raised for the task to retry; any other failure is recorded as such, so no upload stays pending.
    """
    pending = ClipUpload.objects.filter(pk=upload_id, status__in=ClipUpload.PENDING)
    if not pending.update(status=ClipUpload.Status.RUNNING, started_at=timezone.now()):
        return None
    with ExitStack() as stack, transaction.atomic():
        upload = ClipUpload.objects.select_for_update().get(pk=upload_id)
        if upload.finished:
            return upload
        try:
            clip, created = clip_upload(
                system_key=upload.system_key,
                path=_local_path(stack, upload.staged),
                original_name=upload.file_name,
                prompt_id=upload.given_prompt_id,
                prompt_text=upload.prompt_text,
                lyrics=upload.lyrics,
                language=upload.language,
            )
        except ClipRefused as exc:
            upload.status, upload.reason, upload.message = ClipUpload.Status.REFUSED, exc.reason, exc.message
        except OperationalError:
            raise
        except Exception as exc:
            logger.exception("upload %s failed", upload.public_id)
            upload.status, upload.reason = ClipUpload.Status.FAILED, "failed"
            upload.message = f"{upload.file_name}: the import failed ({type(exc).__name__}); try again"
        else:
            upload.status, upload.clip, upload.clip_created = ClipUpload.Status.DONE, clip, created
            upload.message = f"clip {clip.public_id}" if created else f"already imported as clip {clip.public_id}"
        upload.finished_at = timezone.now()
        upload.save(update_fields=["status", "reason", "message", "clip", "clip_created", "finished_at"])
        staged = upload.staged
        transaction.on_commit(lambda: default_storage.delete(staged))
    return upload


def prompt_reference_store(*, prompt_id: int, staged: str, name: str = "") -> Prompt | None:
    """Encode a reference audio upload the admin's form checked and staged, and make it the prompt's reference
    (arena.tasks.prompt_reference_store_task); the staged file and the reference it replaces are deleted once that
    is committed. A staged file already gone (a redelivered message) does nothing."""
    if not default_storage.exists(staged):
        return None
    with ExitStack() as stack:
        try:
            encoded = reference_audio_encode(path=_local_path(stack, staged), name=name)
        except ClipRefused as exc:
            logger.warning("reference audio for prompt %s refused: %s", prompt_id, exc.message)
            default_storage.delete(staged)
            return None
    stored = default_storage.save(f"references/{encoded.name}", encoded)
    try:
        with transaction.atomic():
            prompt = Prompt.objects.select_for_update().filter(pk=prompt_id).first()
            obsolete = [staged, prompt.reference_audio.name if prompt is not None else stored]
            if prompt is not None:
                prompt.reference_audio = stored
                prompt.save(update_fields=["reference_audio"])
            transaction.on_commit(lambda: _delete([stale for stale in obsolete if stale]))
    except BaseException:
        default_storage.delete(stored)
        raise
    return prompt


def _local_path(stack: ExitStack, name: str) -> Path:
    """A local path of a stored file: the file itself, or a temporary copy for storage without local paths."""
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="earshot-staged-")))
        path = folder / f"staged{Path(name).suffix}"
        with default_storage.open(name, "rb") as source, path.open("wb") as target:
            shutil.copyfileobj(source, target)
        return path


def _system_for(entry: dict[str, Any], *, create: bool) -> System:
    key = entry.get("system")
    if not isinstance(key, str) or not key.strip():
        raise ClipRefused("bad_line", "each line needs a 'system' (its slug or name)")
    system = system_find(key)
    if system is not None:
        return system
    if not create:
        raise ClipRefused("unknown_system", f"system {key!r} is not registered (add it, or pass --create-systems)")
    from django.utils.text import slugify

    return System.objects.create(name=key, slug=slugify(key) or secrets.token_hex(4))
