"""The JSON parser every API uses: it refuses with 400 what would otherwise fail later with 500 (in a serializer,
in the error renderer, or in PostgreSQL)."""
from __future__ import annotations

import codecs
import json
import math
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.parsers import BaseParser, JSONParser

MAX_JSON_DEPTH = 32  # far below the interpreter's recursion limit, which serialisers and json.dumps recurse into


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is out of range")
    return number


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain a lone UTF-16 surrogate (\\ud800-\\udfff)"
    return None


def json_refuse_unstorable(data: Any) -> None:
    """Raise a ValidationError naming the field of the first string PostgreSQL could not store (NUL, lone
    surrogates: neither can be stored in text or jsonb, nor rendered back in an error), or ParseError for nesting
    deeper than MAX_JSON_DEPTH. Iterative, so no nesting depth reaches the recursion limit here."""
    pending: list[tuple[Any, str, int]] = [(data, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise drf_exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            problem = _string_problem(value)
            if problem is not None:
                raise serializers.ValidationError({path or "body": [problem]})
        elif isinstance(value, Mapping):
            for key, item in value.items():
                problem = _string_problem(key)
                if problem is not None:
                    raise serializers.ValidationError({path or "body": [f"a key {problem}"]})
                pending.append((item, f"{path}.{key[:40]}" if path else key[:40], depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


class StrictJsonParser(JSONParser):
    """DRF's JSON parser, refusing with 400 what would otherwise fail later with 500: nesting that exhausts the
    recursion limit, numbers that overflow to infinity, NaN/Infinity, and strings PostgreSQL cannot store."""

    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError as exc:
            raise drf_exceptions.ParseError(
                f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels"
            ) from exc
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int() past its digit limit, ours above
            raise drf_exceptions.ParseError(f"JSON parse error - {str(exc)[:200]}") from exc
        json_refuse_unstorable(data)
        return data


class UnreadBodyParser(BaseParser):
    """For endpoints that take no body: any content type is accepted and the body is never read (so neither the
    CSRF check, which looks for a form token, nor anything else parses it)."""

    media_type = "*/*"

    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {}
