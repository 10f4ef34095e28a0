"""Admin uploads, the web half: check the form, stage the file in storage, record the job, queue the worker by name.

Decoding in full, loudness and encoding run in a Celery worker (arena.tasks, through arena.ingest), never in a web
process: this module imports neither of them, nor torch.
"""
from __future__ import annotations

import re
import secrets
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db import transaction

from arena import audio
from arena.errors import ClipRefused, ClipUploadNotFound
from arena.models import ClipUpload, Prompt, System
from core.oncommit import enqueue_on_commit, task_by_name

# Named rather than imported: arena.tasks imports the ingest (and torch through it).
CLIP_UPLOAD_TASK = "arena.tasks.clip_upload_task"
REFERENCE_STORE_TASK = "arena.tasks.prompt_reference_store_task"
STAGING_FOLDER = "staging"




def system_find(key: str) -> System | None:
    """The system a form or a manifest names by its slug or its name."""
    return System.objects.filter(slug=key).first() or System.objects.filter(name=key).first()


def _staged_name(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    # The suffix helps libsndfile tell some formats apart; anything but a plain one is dropped.
    return f"{STAGING_FOLDER}/{secrets.token_hex(16)}{suffix if re.fullmatch(r'\.[a-z0-9]{1,7}', suffix) else ''}"


def _size_check(upload: UploadedFile, name: str) -> None:
    limit = settings.EARSHOT_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ClipRefused("too_large", f"{name}: {upload.size} bytes is larger than the limit of {limit} bytes")


def clip_upload_queue(
    *,
    uploaded_by: Any,
    system_key: str,
    audio_file: UploadedFile,
    prompt_id: int | None = None,
    prompt_text: str = "",
    lyrics: str = "",
    language: str = "en",
) -> ClipUpload:
    """Check the form's values, stage the file and queue its import (the same as `manage.py import_clips`).

    Raises ClipRefused for an unknown system or prompt and a file over EARSHOT_MAX_UPLOAD_BYTES; everything else
    is the worker's to find, and the returned job records it. Under eager Celery the job has finished by the time
    this returns (outside a transaction the enqueue runs at once).
    """
    name = Path(audio_file.name or "upload").name
    _size_check(audio_file, name)
    if system_find(system_key) is None:
        raise ClipRefused("unknown_system", f"system {system_key!r} is not registered (add it in the admin first)")
    if prompt_id is not None and not Prompt.objects.filter(pk=prompt_id).exists():
        raise ClipRefused("unknown_prompt", f"prompt_id {prompt_id} does not exist")
    staged = default_storage.save(_staged_name(name), audio_file)
    try:
        with transaction.atomic():
            upload = ClipUpload.objects.create(
                uploaded_by=uploaded_by if getattr(uploaded_by, "pk", None) else None,
                system_key=system_key,
                given_prompt_id=prompt_id,
                prompt_text=prompt_text,
                lyrics=lyrics,
                language=language,
                file_name=name[:255],
                file_size=audio_file.size or 0,
                staged=staged,
            )
            enqueue_on_commit(task_by_name(CLIP_UPLOAD_TASK), upload.pk)
    except BaseException:
        default_storage.delete(staged)
        raise
    upload.refresh_from_db()
    return upload


def clip_upload_get(*, public_id: UUID) -> ClipUpload:
    upload = ClipUpload.objects.select_related("clip__system").filter(public_id=public_id).first()
    if upload is None:
        raise ClipUploadNotFound()
    return upload


def reference_audio_check(*, upload: UploadedFile) -> None:
    """Refuse, on the admin's form, a prompt's reference audio that the worker could not encode: the same decode
    as clips (soundfile, no torch). Raises ClipRefused."""
    name = Path(upload.name or "reference").name
    _size_check(upload, f"reference audio {name}")
    try:
        if isinstance(upload, TemporaryUploadedFile):
            _decodable_check(Path(upload.temporary_file_path()))
            return
        with tempfile.TemporaryDirectory(prefix="earshot-reference-") as folder:
            path = Path(folder) / f"upload{Path(name).suffix.lower()[:8]}"
            with path.open("wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
            _decodable_check(path)
    except audio.AudioProblem as exc:
        raise ClipRefused(exc.code, f"reference audio {name}: {exc}") from exc
    finally:
        upload.seek(0)


def _decodable_check(path: Path) -> None:
    decoded = audio.decode(path, max_seconds=settings.EARSHOT_MAX_CLIP_SECONDS,
                           max_decoded_bytes=settings.EARSHOT_MAX_DECODED_BYTES)
    audio.delivery_check(decoded)


def prompt_reference_queue(*, prompt: Prompt, upload: UploadedFile) -> str:
    """Stage a checked reference audio upload and, once the prompt is committed, have a worker store its re-encoded
    delivery copy as the prompt's reference (what listeners fetch is never the uploaded bytes). Returns the staged
    name."""
    staged = default_storage.save(_staged_name(upload.name or "reference"), upload)
    enqueue_on_commit(task_by_name(REFERENCE_STORE_TASK), prompt.pk, staged, Path(upload.name or "").name)
    return staged
