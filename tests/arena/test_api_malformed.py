"""Malformed bodies against battle create, events and vote, on the real test database: every one answers 400 (413
for an oversized body, 415 for a body that is not JSON) in the JSON error shape, never 500.

The clients are browsers (session and CSRF token, CSRF enforced): the CSRF check looks for a form token in the
body, so it is where a body is first parsed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.http import HttpResponse
from rest_framework.test import APIClient

from arena.models import Battle, Vote
from core.parsers import MAX_JSON_DEPTH
from tests.arena.arena_support import arena_isolated, battle_age, catalogue_import  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.django_db
JSON = "application/json"
EVENT = '{"type": "play", "side": "a", "position_ms": 0, "client_ms": 0}'


def _vote(hints: str = "{}", reason: str = '""', choice: str = '"a"') -> bytes:
    return f'{{"choice": {choice}, "reason": {reason}, "client_hints": {hints}}}'.encode()


def _events(event: str) -> bytes:
    return f'{{"events": [{event}]}}'.encode()


# (name, body, content type, the field the error names or None)
MALFORMED_VOTES: list[tuple[str, bytes, str, str | None]] = [
    ("200 KB of nested [", b"[" * 200_000, JSON, None),
    ("200 KB of nested {", b'{"a":' * 40_000, JSON, None),
    ("client_hints nested past the depth limit", _vote(hints='{"a":' * (MAX_JSON_DEPTH + 5) + "1"
                                                        + "}" * (MAX_JSON_DEPTH + 5)), JSON, None),
    ("1e400 in client_hints", _vote(hints='{"x": 1e400}'), JSON, None),
    ("-1e400 in client_hints", _vote(hints='{"x": -1e400}'), JSON, None),
    ("NaN in client_hints", _vote(hints='{"x": NaN}'), JSON, None),
    ("Infinity in client_hints", _vote(hints='{"x": Infinity}'), JSON, None),
    ("NUL in a client_hints value", _vote(hints='{"x": "a\\u0000b"}'), JSON, "client_hints.x"),
    ("NUL in a client_hints key", _vote(hints='{"a\\u0000": 1}'), JSON, "client_hints"),
    ("lone surrogate in a client_hints value", _vote(hints='{"x": "\\ud800"}'), JSON, "client_hints.x"),
    ("lone surrogate in a client_hints key", _vote(hints='{"\\udfff": 1}'), JSON, "client_hints"),
    ("NUL in the reason", _vote(reason='"why\\u0000"'), JSON, "reason"),
    ("lone surrogate in the reason", _vote(reason='"\\ud83d"'), JSON, "reason"),
    ("lone surrogate in the choice", _vote(choice='"\\udc00"'), JSON, "choice"),
    ("a 5,000-digit integer", b'{"choice": "a", "decision_ms": ' + b"9" * 5000 + b"}", JSON, None),
    ("1e400 as decision_ms", b'{"choice": "a", "decision_ms": 1e400}', JSON, None),
    ("decision_ms past its maximum", b'{"choice": "a", "decision_ms": 1e300}', JSON, "decision_ms"),
    ("client_hints as a list", _vote(hints="[1, 2]"), JSON, "client_hints"),
    ("client_hints as a string", _vote(hints='"x"'), JSON, "client_hints"),
    ("client_hints past its size", _vote(hints=json.dumps({"x": "y" * 5000})), JSON, "client_hints"),
    ("the choice as an object", _vote(choice='{"a": 1}'), JSON, "choice"),
    ("the reason as a list", _vote(reason="[1]"), JSON, "reason"),
    ("next as a word", b'{"choice": "a", "next": "maybe"}', JSON, "next"),
    ("a JSON list", b"[]", JSON, None),
    ("a JSON string", b'"a"', JSON, None),
    ("a JSON number", b"1", JSON, None),
    ("JSON null", b"null", JSON, None),
    ("truncated JSON", b'{"choice": ', JSON, None),
    ("invalid UTF-8", b'{"choice": "\xff\xfe"}', JSON, None),
    ("UTF-16 with a byte order mark", '{"choice": "a"}'.encode("utf-16"), JSON, None),
    ("an empty body", b"", JSON, "choice"),
]
MALFORMED_EVENTS: list[tuple[str, bytes, str, str | None]] = [
    ("200 KB of nested [", b"[" * 200_000, JSON, None),
    ("lone surrogate in an event's side", _events(EVENT.replace('"side": "a"', '"side": "\\ud800"')), JSON,
     "events[0].side"),
    ("NUL in an event's type", _events(EVENT.replace('"play"', '"pl\\u0000ay"')), JSON, "events[0].type"),
    ("1e400 as a position", _events(EVENT.replace('"position_ms": 0', '"position_ms": 1e400')), JSON, None),
    ("a fractional position", _events(EVENT.replace('"position_ms": 0', '"position_ms": 1.5')), JSON, "events"),
    ("a 5,000-digit client clock", _events(EVENT.replace('"client_ms": 0', '"client_ms": ' + "9" * 5000)), JSON,
     None),
    ("a position past its maximum", _events(EVENT.replace('"position_ms": 0', '"position_ms": 1e300')), JSON,
     "events"),
    ("events as an object", b'{"events": {"a": 1}}', JSON, "events"),
    ("events as a string", b'{"events": "play"}', JSON, "events"),
    ("an event as a string", b'{"events": ["play"]}', JSON, "events"),
    ("an event as a list", b'{"events": [[1, 2]]}', JSON, "events"),
    ("NaN as a client clock", _events(EVENT.replace('"client_ms": 0', '"client_ms": NaN')), JSON, None),
    ("a JSON list", b"[]", JSON, None),
    ("invalid UTF-8", b'{"events": ["\xc3\x28"]}', JSON, None),
]


def _assert_error_shape(response: HttpResponse, status: int) -> dict[str, object]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()
    assert set(error) <= {"code", "message", "details"} and {"code", "message"} <= set(error)
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def browser() -> APIClient:
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.get("/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.fixture
def battle(tmp_path: Path) -> tuple[APIClient, str]:
    catalogue_import(tmp_path, systems=2, seconds=1.0)
    client = browser()
    created = client.post("/api/battles/")
    assert created.status_code == 201
    battle_age(Battle.objects.get(public_id=created.json()["id"]), 10)
    return client, created.json()["id"]


@pytest.mark.parametrize(("name", "body", "content_type", "field"), MALFORMED_VOTES,
                         ids=[m[0] for m in MALFORMED_VOTES])
def test_a_malformed_vote_answers_400_in_the_error_shape(  # type: ignore[no-untyped-def]
    battle, name: str, body: bytes, content_type: str, field: str | None
) -> None:
    client, battle_id = battle
    response = client.generic("POST", f"/api/battles/{battle_id}/vote/", body, content_type=content_type)
    error = _assert_error_shape(response, 400)
    if field is not None:
        assert field in error["details"], error  # type: ignore[operator]
    assert not Vote.objects.exists()


@pytest.mark.parametrize(("name", "body", "content_type", "field"), MALFORMED_EVENTS,
                         ids=[m[0] for m in MALFORMED_EVENTS])
def test_malformed_events_answer_400_in_the_error_shape(  # type: ignore[no-untyped-def]
    battle, name: str, body: bytes, content_type: str, field: str | None
) -> None:
    client, battle_id = battle
    response = client.generic("POST", f"/api/battles/{battle_id}/events/", body, content_type=content_type)
    error = _assert_error_shape(response, 400)
    if field is not None:
        assert field in error["details"], error  # type: ignore[operator]
    assert Battle.objects.get(public_id=battle_id).ms_played_a == 0


@pytest.mark.parametrize("path_body", [
    ("create", b"[" * 200_000),
    ("vote/", b"[" * 200_000),
    ("events/", _events(EVENT.replace('"side": "a"', '"side": "\\ud800"'))),
], ids=["nested on create", "nested", "lone surrogate"])
def test_without_the_strict_parser_these_bodies_answer_500(  # type: ignore[no-untyped-def]
    battle, monkeypatch: pytest.MonkeyPatch, path_body: tuple[str, bytes]
) -> None:
    """DRF's stock parser lets them through to a RecursionError, and to an error message echoing a lone surrogate
    that cannot be encoded: two of the 500s the probe saw."""
    from rest_framework.parsers import JSONParser

    from arena.api import BattleCreateApi, BattleEventsApi, BattleVoteApi

    for view in (BattleCreateApi, BattleVoteApi, BattleEventsApi):
        monkeypatch.setattr(view, "parser_classes", [JSONParser])
    client, battle_id = battle
    path, body = path_body
    url = "/api/battles/" if path == "create" else f"/api/battles/{battle_id}/{path}"
    assert client.generic("POST", url, body, content_type=JSON).status_code == 500


def test_a_body_that_is_not_json_answers_415_in_the_error_shape(battle) -> None:  # type: ignore[no-untyped-def]
    client, battle_id = battle
    for path in ("vote/", "events/"):
        form = client.generic("POST", f"/api/battles/{battle_id}/{path}", b"choice=a&client_hints.x=%00",
                              content_type="application/x-www-form-urlencoded")
        assert _assert_error_shape(form, 415)["code"] == "unsupported_media_type"
        text = client.generic("POST", f"/api/battles/{battle_id}/{path}", b"{", content_type="text/plain")
        assert _assert_error_shape(text, 415)["code"] == "unsupported_media_type"


def test_a_body_over_the_upload_limit_answers_413_in_the_error_shape(battle, settings) -> None:  # type: ignore[no-untyped-def]
    client, battle_id = battle
    body = json.dumps({"choice": "a", "reason": "x" * 3_000_000}).encode()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    for path in ("vote/", "events/"):
        response = client.generic("POST", f"/api/battles/{battle_id}/{path}", body, content_type=JSON)
        error = _assert_error_shape(response, 413)
        assert error["code"] == "body_too_large"
        assert error["details"] == {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}


def test_a_non_uuid_battle_id_answers_404_in_the_error_shape(battle) -> None:  # type: ignore[no-untyped-def]
    client, _ = battle
    for path in ("", "events/", "vote/", "audio/a"):
        method = "GET" if path in ("", "audio/a") else "POST"
        response = client.generic(method, f"/api/battles/not-a-uuid/{path}", b"{}", content_type=JSON)
        error = _assert_error_shape(response, 404)
        assert error["code"] == "not_found" and error["details"] == {"path": f"/api/battles/not-a-uuid/{path}"}


def test_pages_outside_the_api_keep_djangos_error_pages(battle) -> None:  # type: ignore[no-untyped-def]
    client, _ = battle
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("body", [b"[" * 200_000, b"x" * 3_000_000, b'{"x": "\\ud800\\u0000"}', b"{"],
                         ids=["nested", "3 MB", "unstorable", "truncated"])
def test_battle_create_never_reads_its_body(tmp_path: Path, body: bytes) -> None:
    catalogue_import(tmp_path, systems=3, seconds=1.0)  # three pairs: one new battle per content type
    client = browser()
    for content_type in (JSON, "application/x-www-form-urlencoded", "text/plain"):
        response = client.generic("POST", "/api/battles/", body, content_type=content_type)
        assert response.status_code == 201, response.content[:300]
