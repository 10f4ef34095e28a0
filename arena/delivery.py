"""Audio delivery of a battle's clips: each battle's own bytes of a clip, with HTTP Range (seeking) from Django
itself, or handed to the front server.

Nothing in a delivery response names the clip or its system: no Content-Disposition, no ETag, no Last-Modified,
and the stored file name (random hex) never leaves the server except inside an internal redirect.

Per-battle bytes: a stored delivery file is a bare constant-bitrate MP3 stream (arena.audio_processing). Each
battle's side is that stream behind an ID3v2 tag holding only padding (0 to EARSHOT_DELIVERY_PADDING_BYTES bytes,
so the size differs), with the private bit of the frame headers (which every decoder ignores) set in a pattern of
its own (so the first bytes and the hash differ). Both are drawn from an HMAC of the battle's id and side under
SECRET_KEY, so every Range request of one battle reads the same file. Copies made before that layout
(`Clip.delivery_frame_bytes == 0`) are served as stored until `manage.py reencode_deliveries`.

Production hand-off (the web process then sends headers only; the front server sends the bytes and handles Range).
A front server cannot transform bytes, so the first request of a battle's side writes that battle's copy to
``<MEDIA_ROOT>/battles/<random>.mp3`` and hands that file over; `battle_copies_prune` deletes copies whose battle
has ended (call it periodically; local storage only):

- nginx, EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX=/protected-media/ with
  ``location /protected-media/ { internal; alias <MEDIA_ROOT>/; etag off; if_modified_since off; }``
  (the response carries ``X-Accel-Redirect: /protected-media/battles/<random>.mp3``);
- Apache mod_xsendfile or lighttpd, EARSHOT_AUDIO_X_SENDFILE=1 (``X-Sendfile: <absolute path>``, local storage
  only). Switch off ETag/Last-Modified there too (Apache: ``FileETag None`` and ``Header unset Last-Modified``).

Django parses the Range header of every request either way, so the audio a rater fetched is counted on both paths.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import numpy as np
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from arena.audio import DELIVERY_FORMATS, DELIVERY_SAMPLE_RATE, MP3_FRAME_SAMPLES
from arena.models import Battle

_SPEC = re.compile(r"^(\d*)-(\d*)$")
FRAME_MS = 1000 * MP3_FRAME_SAMPLES // DELIVERY_SAMPLE_RATE  # 24 ms: exact at 48 kHz
ID3_HEADER_BYTES = 10
COPIES_FOLDER = "battles"
_KEY_SALT = "earshot.arena.delivery.bytes"
_NAME_SALT = "earshot.arena.delivery.name"
# Only audio leaves through these URLs: a stored file of any other kind (an admin once set an .html file as a
# prompt's reference) is not served, never under a guessed type from the site's origin.
_BY_SUFFIX = {
    ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    **{f".{name}": content_type for name, (_, _, content_type) in DELIVERY_FORMATS.items()},
}


class RangeNotSatisfiable(Exception):
    """The Range header asks for no byte the file has, or cannot be read; `size` is the file's, where known."""

    def __init__(self, message: str, *, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


def content_type_for(name: str) -> str | None:
    """The audio type of a stored file by its suffix, or None for anything that is not audio."""
    return _BY_SUFFIX.get(PurePosixPath(name).suffix.lower())


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a Range header asks for, None for the whole file, or RangeNotSatisfiable.

    Other units than bytes are ignored (whole file, as RFC 9110 allows); several ranges are coalesced into the
    one range covering them; a malformed bytes range, or one wholly past the end, is not satisfiable.
    """
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []
    for spec in specs.split(","):
        match = _SPEC.match(spec.strip())
        if match is None or match.group(0) == "-":
            raise RangeNotSatisfiable(f"malformed range {spec.strip()!r}")
        first, last = match.groups()
        if first:
            start = int(first)
            end = int(last) if last else size - 1
            if end < start:
                raise RangeNotSatisfiable(f"range {spec.strip()!r} ends before it starts")
            if start >= size:
                continue
            ranges.append((start, min(end, size - 1)))
        else:
            suffix = int(last)
            if suffix == 0 or size == 0:
                continue
            ranges.append((max(0, size - suffix), size - 1))
    if not ranges:
        raise RangeNotSatisfiable(f"no requested range lies within the {size} bytes of the file")
    return min(start for start, _ in ranges), max(end for _, end in ranges)


@dataclass(frozen=True)
class BattleCopy:
    """One side of one battle as its rater receives it: the stored stream behind this battle's padding tag, with
    this battle's private bits. A stored copy of the old layout (frame_bytes 0) is the file as stored."""

    storage: Storage
    stored_name: str
    stored_size: int
    frame_bytes: int
    duration_ms: int
    padding: int
    key: bytes
    copy_name: str  # the file the front server gets, under COPIES_FOLDER

    @property
    def prefix_bytes(self) -> int:
        return ID3_HEADER_BYTES + self.padding if self.frame_bytes else 0

    @property
    def size(self) -> int:
        return self.prefix_bytes + self.stored_size

    def read(self, start: int, end: int) -> bytes:
        """Bytes start..end (inclusive) of this battle's copy."""
        prefix = self.prefix_bytes
        out = bytearray()
        if start < prefix:
            out += self._tag()[start : min(end, prefix - 1) + 1]
        if end >= prefix:
            first = max(start, prefix) - prefix
            with self.storage.open(self.stored_name, "rb") as handle:
                handle.seek(first)
                chunk = bytearray(handle.read(end - prefix - first + 1))
            if self.frame_bytes:
                self._mark_frames(chunk, first)
            out += chunk
        return bytes(out)

    def audio_ms(self, start: int, end: int) -> tuple[int, int] | None:
        """The clip's milliseconds whose audio bytes start..end (inclusive) hold whole: [from, to), or None.

        A constant-bitrate stream holds FRAME_MS per frame, and only a whole frame decodes; a copy of the old
        layout is taken as spreading its duration evenly over its bytes.
        """
        if not self.frame_bytes:
            first_ms = -(-start * self.duration_ms // self.stored_size)
            end_ms = (end + 1) * self.duration_ms // self.stored_size
            return (first_ms, end_ms) if end_ms > first_ms else None
        first = max(start - self.prefix_bytes, 0)
        last = end - self.prefix_bytes
        first_frame, end_frame = -(-first // self.frame_bytes), (last + 1) // self.frame_bytes
        return (first_frame * FRAME_MS, end_frame * FRAME_MS) if end_frame > first_frame else None

    def _tag(self) -> bytes:
        """An ID3v2.4 tag of padding alone: it names nothing, and only its length differs between battles."""
        size = self.padding
        syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
        return b"ID3\x04\x00\x00" + syncsafe + bytes(size)

    def _mark_frames(self, chunk: bytearray, offset: int) -> None:
        """Flip the private bit (third header byte, lowest bit) of this battle's frames within the chunk, which
        starts `offset` bytes into the stored stream."""
        size = self.frame_bytes
        first = max(0, -(-(offset - 2) // size))
        last = (offset + len(chunk) - 1 - 2) // size
        if last < first:
            return
        frames = np.arange(first, last + 1)
        pattern = np.frombuffer(hashlib.shake_256(self.key).digest(last // 8 + 1), dtype=np.uint8)
        marked = frames[np.unpackbits(pattern, bitorder="little")[frames].astype(bool)]
        view = np.frombuffer(chunk, dtype=np.uint8)
        view[marked * size + 2 - offset] ^= 1


def battle_copy(*, battle: Battle, side: str) -> BattleCopy:
    """Side `side` ("a" or "b") of the battle as delivered: the clip's stored file made this battle's own."""
    clip = battle.clip_a if side == "a" else battle.clip_b
    file: FieldFile = clip.delivery
    name = file.name or ""
    message = f"{battle.public_id}/{side}"
    key = salted_hmac(_KEY_SALT, message, algorithm="sha256").digest()
    return BattleCopy(
        storage=file.storage,
        stored_name=name,
        stored_size=file.storage.size(name),
        frame_bytes=clip.delivery_frame_bytes,
        duration_ms=round(clip.duration_s * 1000),
        padding=int.from_bytes(key[:8], "big") % (settings.EARSHOT_DELIVERY_PADDING_BYTES + 1),
        key=key,
        # a new delivery file (re-encoded clip) is a new copy
        copy_name=salted_hmac(_NAME_SALT, f"{message}/{name}", algorithm="sha256").hexdigest()[:32],
    )


def copy_response(
    request: HttpRequest, copy: BattleCopy, wanted: tuple[int, int] | None, *, max_age: int
) -> HttpResponse:
    """The battle's copy as a 200, a 206 for the satisfiable Range already parsed (`wanted`), or an internal
    redirect to the battle's own file."""
    prefix = settings.EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX
    if prefix or settings.EARSHOT_AUDIO_X_SENDFILE:
        name = _copy_file(copy) if copy.frame_bytes else copy.stored_name
        response = HttpResponse(content_type=content_type_for(name) or "application/octet-stream")
        if prefix:
            response["X-Accel-Redirect"] = quote(prefix.rstrip("/") + "/" + name.lstrip("/"))
        else:
            response["X-Sendfile"] = copy.storage.path(name)
        return _private(response, max_age)
    start, end = wanted if wanted is not None else (0, copy.size - 1)
    # Whole clips are small (a few MB at most): read the slice at once rather than stream a file handle, which
    # Django would serve synchronously-wrapped under ASGI.
    body = copy.read(start, end) if copy.size else b""
    response = HttpResponse(body, content_type=content_type_for(copy.stored_name) or "application/octet-stream",
                            status=206 if wanted is not None else 200)
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{copy.size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    return _private(response, max_age)


def range_refused(header: str | None, exc: RangeNotSatisfiable, *, size: int, max_age: int) -> HttpResponse:
    """416 with the file's size, in the project's JSON error shape."""
    refused = JsonResponse(
        {"code": "range_not_satisfiable", "message": f"Range {header!r}: {exc}.", "details": {"size": size}},
        status=416,
    )
    refused["Content-Range"] = f"bytes */{size}"
    refused["Accept-Ranges"] = "bytes"
    return _private(refused, max_age)


def _copy_file(copy: BattleCopy) -> str:
    """The battle's copy as a file of its own for the front server, written whole on the first request."""
    name = f"{COPIES_FOLDER}/{copy.copy_name}.mp3"
    path = Path(copy.storage.path(name))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".mp3")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(copy.read(0, copy.size - 1))
            os.chmod(partial, settings.FILE_UPLOAD_PERMISSIONS or 0o644)
            os.replace(partial, path)  # two first requests at once each write a whole copy; one replaces the other
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return name


def battle_copies_prune(*, now: datetime | None = None, storage: Storage | None = None) -> int:
    """Delete the per-battle copies written for the front server whose battle has ended; returns how many.

    A copy is written on its battle's first audio request, so a copy older than EARSHOT_BATTLE_TTL_SECONDS belongs
    to a battle that has expired or was voted on: deleting it never breaks an open battle (one voted on but still
    played writes its copy again). Meant for the periodic clean-up task.
    """
    storage = storage or default_storage
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.EARSHOT_BATTLE_TTL_SECONDS)
    try:
        _, files = storage.listdir(COPIES_FOLDER)
    except FileNotFoundError:
        return 0
    deleted = 0
    for file_name in files:
        name = f"{COPIES_FOLDER}/{file_name}"
        if storage.get_modified_time(name) < cutoff:
            storage.delete(name)
            deleted += 1
    return deleted


def audio_response(request: HttpRequest, file: FieldFile, *, max_age: int) -> HttpResponse:
    """A stored file (the prompt's reference audio) as a 200, a 206 for a satisfiable Range, a 416 for any other
    Range, or an internal redirect."""
    name = file.name or ""
    content_type = content_type_for(name)
    if content_type is None:
        refused = JsonResponse({"code": "audio_not_found", "message": "No playable audio here."}, status=404)
        return _private(refused, max_age)
    prefix = settings.EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = quote(prefix.rstrip("/") + "/" + name.lstrip("/"))
        return _private(response, max_age)
    if settings.EARSHOT_AUDIO_X_SENDFILE:
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = file.path
        return _private(response, max_age)

    size = file.storage.size(name)
    header = range_header(request)
    try:
        wanted = byte_range(header, size)
    except RangeNotSatisfiable as exc:
        return range_refused(header, exc, size=size, max_age=max_age)
    start, end = wanted if wanted is not None else (0, size - 1)
    with file.storage.open(name, "rb") as handle:
        handle.seek(start)
        body = handle.read(end - start + 1) if size else b""
    response = HttpResponse(body, content_type=content_type, status=206 if wanted is not None else 200)
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    return _private(response, max_age)


def range_header(request: HttpRequest) -> str | None:
    """The Range header to honour. Without validators of ours a client cannot hold a matching If-Range: it gets
    the whole file."""
    return None if "HTTP_IF_RANGE" in request.META else request.META.get("HTTP_RANGE")


def _private(response: HttpResponse, max_age: int) -> HttpResponse:
    response["Cache-Control"] = f"private, max-age={max(0, max_age)}"
    # Opened directly, whatever it holds runs in an opaque origin with no scripts, forms or plugins.
    response["Content-Security-Policy"] = "sandbox"
    return response
