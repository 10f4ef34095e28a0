"""GET /api/leaderboards/ and /api/leaderboards/<scope>/: scopes, the current snapshot, history, errors, schema."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from rest_framework.test import APIClient

from arena.models import Choice
from scoring.scopes import scope_parse
from scoring.serializers import snapshot_payload
from scoring.services import snapshot_refresh
from tests.factories import SystemFactory
from tests.openapi import assert_matches_schema

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = pytest.mark.django_db

ALL_SCOPES = ["arena", "arena:musicality", "arena:prompt_alignment", "arena:lyrics_alignment", "arena:instrumental",
              "arena:lyrics", "arena:bank", "arena:listener"]


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def lenient(settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100


def test_it_lists_every_scope_before_any_vote(client: APIClient) -> None:
    response = client.get("/api/leaderboards/")
    assert response.status_code == 200
    assert [entry["scope"] for entry in assert_matches_schema(response, closed=True)] == ALL_SCOPES
    assert all(entry["vote_count"] == 0 and entry["computed_at"] is None for entry in response.json())
    assert response.json()[1]["label"] == "Arena · Musicality"


def test_the_list_shows_each_scopes_current_vote_count(
    client: APIClient, vote_writer: VoteWriter, lenient: None
) -> None:
    alpha, beta = SystemFactory(), SystemFactory()
    vote_writer.cast([(alpha, beta, Choice.A)] * 2)
    snapshot_refresh(scope=scope_parse("arena"))
    vote_writer.cast([(alpha, beta, Choice.B)])
    snapshot_refresh(scope=scope_parse("arena"))
    listing = {entry["scope"]: entry for entry in assert_matches_schema(client.get("/api/leaderboards/"))}
    assert listing["arena"]["vote_count"] == 3
    assert listing["arena"]["computed_at"] is not None
    assert listing["arena:lyrics"]["vote_count"] == 0


def test_it_returns_the_current_snapshot_as_the_websocket_pushes_it(
    client: APIClient, vote_writer: VoteWriter, lenient: None
) -> None:
    alpha, beta = SystemFactory(name="Alpha"), SystemFactory(name="Beta")
    vote_writer.cast([(alpha, beta, Choice.A)] * 4 + [(beta, alpha, Choice.TIE)])
    snapshot = snapshot_refresh(scope=scope_parse("arena"))
    assert snapshot is not None

    response = client.get("/api/leaderboards/arena/")
    assert response.status_code == 200
    body = assert_matches_schema(response, closed=True)  # every documented row field, of its type, and no others
    assert body["scope"] == "arena" and body["label"] == "Arena · Overall"
    assert body["history"] == []
    assert body["snapshot"] == snapshot_payload(snapshot)
    top = body["snapshot"]["rows"][0]
    assert (top["name"], top["wins"], top["ties"], top["n"]) == ("Alpha", 4, 1, 5)


def test_history_returns_the_latest_snapshots_oldest_first(
    client: APIClient, vote_writer: VoteWriter, lenient: None
) -> None:
    alpha, beta = SystemFactory(), SystemFactory()
    for _ in range(4):
        vote_writer.cast([(alpha, beta, Choice.A)])
        snapshot_refresh(scope=scope_parse("arena"))
    body = assert_matches_schema(client.get("/api/leaderboards/arena/", {"history": 3}), closed=True)
    assert [point["vote_count"] for point in body["history"]] == [2, 3, 4]
    assert {rating["system_id"] for rating in body["history"][-1]["ratings"]} == {alpha.pk, beta.pk}


def test_a_scope_without_votes_has_no_snapshot(client: APIClient) -> None:
    body = assert_matches_schema(client.get("/api/leaderboards/arena:lyrics/?history=5"), closed=True)
    assert body == {"scope": "arena:lyrics", "label": "Arena · Prompts with lyrics", "snapshot": None, "history": []}


def test_it_refuses_an_unknown_scope(client: APIClient) -> None:
    response = client.get("/api/leaderboards/arena:tempo/")
    assert response.status_code == 404
    assert assert_matches_schema(response, closed=True)["code"] == "unknown_scope"
    assert response.json()["details"] == {"scope": "arena:tempo"}


@pytest.mark.parametrize("history", ["-1", "many", "501"])
def test_it_refuses_a_bad_history_length(client: APIClient, history: str) -> None:
    response = client.get("/api/leaderboards/arena/", {"history": history})
    assert response.status_code == 400
    assert assert_matches_schema(response, closed=True)["code"] == "invalid_input"
    assert "history" in response.json()["message"]


def test_the_schema_documents_both_endpoints_and_their_errors(client: APIClient) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    listing = schema["paths"]["/api/leaderboards/"]["get"]
    detail = schema["paths"]["/api/leaderboards/{scope}/"]["get"]
    assert listing["operationId"] == "leaderboards_list"
    assert set(detail["responses"]) == {"200", "400", "404", "429", "503"}
    assert {parameter["name"] for parameter in detail["parameters"]} == {"scope", "history", "method"}
    assert "LeaderboardRow" in schema["components"]["schemas"]


def test_a_repeated_read_of_the_same_snapshot_costs_one_small_query_and_a_new_snapshot_is_read_afresh(
    client: APIClient, vote_writer: VoteWriter, lenient: None, django_assert_num_queries: Any
) -> None:
    alpha, beta = SystemFactory(), SystemFactory()
    for _ in range(3):
        vote_writer.cast([(alpha, beta, Choice.A)])
        snapshot_refresh(scope=scope_parse("arena"))
    first = client.get("/api/leaderboards/arena/", {"history": 3}).json()
    with django_assert_num_queries(1):  # the current snapshot's version; the body comes from the cache
        again = client.get("/api/leaderboards/arena/", {"history": 3}).json()
    assert again == first

    vote_writer.cast([(beta, alpha, Choice.A)])
    newer = snapshot_refresh(scope=scope_parse("arena"))
    assert newer is not None
    fresh = client.get("/api/leaderboards/arena/", {"history": 3}).json()
    assert fresh["snapshot"]["id"] == newer.pk
    assert [point["vote_count"] for point in fresh["history"]] == [2, 3, 4]


@pytest.mark.parametrize(("path", "unthrottled"),
                         [("/api/leaderboards/", 200), ("/api/leaderboards/arena/", 200), ("/api/agreement/", 404)])
def test_the_read_endpoints_are_limited_per_address(
    client: APIClient, settings: Any, path: str, unthrottled: int
) -> None:
    settings.EARSHOT_RATE_LIMIT_IP = "2/min"
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # a fresh address: its own counter
    statuses = [client.get(path, REMOTE_ADDR=address).status_code for _ in range(3)]
    assert statuses == [unthrottled, unthrottled, 429]
    assert client.get(path, REMOTE_ADDR=address).json()["code"] == "throttled"
