"""Audio delivery of a battle's clips: HTTP Range (seeking) from Django itself, or hand-off to the front server.

Nothing in a delivery response names the clip or its system: no Content-Disposition, no ETag, no Last-Modified,
and the stored file name (random hex) never leaves the server except inside an internal redirect.

Production hand-off (the web process then sends headers only; the front server sends the bytes and handles Range):

- nginx, EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX=/protected-media/ with
  ``location /protected-media/ { internal; alias <MEDIA_ROOT>/; etag off; if_modified_since off; }``
  (the response carries ``X-Accel-Redirect: /protected-media/delivery/<random>.mp3``);
- Apache mod_xsendfile or lighttpd, EARSHOT_AUDIO_X_SENDFILE=1 (``X-Sendfile: <absolute path>``, local storage
  only). Switch off ETag/Last-Modified there too (Apache: ``FileETag None`` and ``Header unset Last-Modified``).
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, JsonResponse

from arena.audio import DELIVERY_FORMATS

_SPEC = re.compile(r"^(\d*)-(\d*)$")
# Only audio leaves through these URLs: a stored file of any other kind (an admin once set an .html file as a
# prompt's reference) is not served, never under a guessed type from the site's origin.
_BY_SUFFIX = {
    ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    **{f".{name}": content_type for name, (_, _, content_type) in DELIVERY_FORMATS.items()},
}


class RangeNotSatisfiable(Exception):
    """The Range header asks for no byte the file has, or cannot be read."""


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


def audio_response(request: HttpRequest, file: FieldFile, *, max_age: int) -> HttpResponse:
    """The file as a 200, a 206 for a satisfiable Range, a 416 for any other Range, or an internal redirect."""
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
    # Without validators of ours a client cannot hold a matching If-Range: it gets the whole file.
    header = None if "HTTP_IF_RANGE" in request.META else request.META.get("HTTP_RANGE")
    try:
        wanted = byte_range(header, size)
    except RangeNotSatisfiable as exc:
        refused = JsonResponse(
            {"code": "range_not_satisfiable", "message": f"Range {header!r}: {exc}.", "details": {"size": size}},
            status=416,
        )
        refused["Content-Range"] = f"bytes */{size}"
        refused["Accept-Ranges"] = "bytes"
        return _private(refused, max_age)
    start, end = wanted if wanted is not None else (0, size - 1)
    # Whole clips are small (a few MB at most): read the slice at once rather than stream a file handle, which
    # Django would serve synchronously-wrapped under ASGI.
    with file.storage.open(name, "rb") as handle:
        handle.seek(start)
        body = handle.read(end - start + 1) if size else b""
    response = HttpResponse(body, content_type=content_type, status=206 if wanted is not None else 200)
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    return _private(response, max_age)


def _private(response: HttpResponse, max_age: int) -> HttpResponse:
    response["Cache-Control"] = f"private, max-age={max(0, max_age)}"
    # Opened directly, whatever it holds runs in an opaque origin with no scripts, forms or plugins.
    response["Content-Security-Policy"] = "sandbox"
    return response
