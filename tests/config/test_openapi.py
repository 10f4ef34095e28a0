"""tests/openapi.py itself: a documented answer passes, and a broken one is refused with what is wrong with it."""
from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from tests.openapi import assert_matches_schema, schema_errors

VOTE = "/api/battles/{battle_id}/vote/"
BATTLE_ID = "0b6f2a8e-4f6c-4f1e-9d4a-2f1c3e5a7b90"


def battle() -> dict[str, Any]:
    url = f"http://testserver/api/battles/{BATTLE_ID}/audio/"
    return {
        "id": BATTLE_ID,
        "status": "open",
        "prompt": {"text": "calm piano", "lyrics": "", "reference_audio_url": None},
        "clips": {"a": {"audio_url": url + "a"}, "b": {"audio_url": url + "b"}},
        "min_listen_ms": {"a": 5000, "b": 5000},
        "expires_at": "2026-01-01T12:00:00Z",
        "axes": ["musicality", "prompt_alignment"],
        "suggestion": None,
    }


def vote_answer() -> dict[str, Any]:
    system = {"name": "Alpha", "slug": "alpha", "rating": 1010.5, "ci_low": 990.0, "ci_high": 1030.0}
    return {"choice": "a", "systems": {"a": system, "b": {**system, "slug": "beta", "rating": None}},
            "next_battle": battle()}


def response(body: Any, status: int, *, method: str = "POST", path: str = f"/api/battles/{BATTLE_ID}/vote/") -> Any:
    """Enough of a test client's response for the helper: its status, its JSON and the request it answers."""
    return SimpleNamespace(status_code=status, json=lambda: body, wsgi_request=SimpleNamespace(method=method,
                                                                                             path=path))


def test_a_documented_answer_passes_even_with_nulls_the_schema_allows() -> None:
    answer = vote_answer()
    assert assert_matches_schema(response(answer, 201), closed=True) == answer
    answer["next_battle"] = None
    assert schema_errors(answer, method="post", path=VOTE, status=201, closed=True) == []
    del answer["next_battle"]
    assert schema_errors(answer, method="post", path=VOTE, status=200) == []


def test_it_refuses_a_missing_required_field() -> None:
    answer = vote_answer()
    del answer["next_battle"]["axes"]
    assert schema_errors(answer, method="post", path=VOTE, status=201) == [
        "next_battle: 'axes' is a required property"
    ]
    with pytest.raises(AssertionError, match="off its schema"):
        assert_matches_schema(response(answer, 201))


@pytest.mark.parametrize(
    ("where", "value", "complaint"),
    [
        (("choice",), "maybe", "'maybe' is not one of"),
        (("systems", "a", "rating"), "high", "'high' is not of type 'number'"),
        (("systems", "b", "name"), None, "None for not nullable"),
        (("next_battle", "id"), "not-a-uuid", "'not-a-uuid' is not a 'uuid'"),
        (("next_battle", "min_listen_ms", "a"), 1.5, "1.5 is not of type 'integer'"),
        (("next_battle", "axes"), ["tempo"], "'tempo' is not one of"),
    ],
)
def test_it_refuses_a_wrong_type_or_value(where: tuple[str, ...], value: Any, complaint: str) -> None:
    answer = copy.deepcopy(vote_answer())
    target = answer
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    errors = schema_errors(answer, method="post", path=VOTE, status=201)
    assert any(complaint in error for error in errors), errors


def test_a_closed_check_refuses_an_undocumented_field_that_an_open_one_lets_through() -> None:
    answer = vote_answer()
    answer["systems"]["a"]["clip_id"] = 7
    assert schema_errors(answer, method="post", path=VOTE, status=201) == []
    errors = schema_errors(answer, method="post", path=VOTE, status=201, closed=True)
    assert len(errors) == 1 and errors[0].startswith("systems/a: Additional properties are not allowed")


def test_it_refuses_a_status_the_operation_does_not_document_and_an_error_off_its_shape() -> None:
    with pytest.raises(AssertionError, match="does not document"):
        assert_matches_schema(response({"code": "teapot", "message": "short and stout"}, 418))
    with pytest.raises(AssertionError, match="'message' is a required property"):
        assert_matches_schema(response({"code": "vote_conflict"}, 409))
    assert assert_matches_schema(response({"code": "vote_conflict", "message": "Already voted."}, 409))


def test_it_names_a_path_no_operation_serves() -> None:
    with pytest.raises(AssertionError, match="no operation in the OpenAPI schema serves"):
        assert_matches_schema(response({}, 200, method="GET", path="/api/nowhere/"))
