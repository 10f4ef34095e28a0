"""The leaderboard websocket on the Redis channel layer: current snapshot on connect, pushes after commit, errors."""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from arena.models import Choice, System
from config.asgi import application
from scoring.scopes import scope_parse
from scoring.serializers import snapshot_payload
from scoring.services import snapshot_compute, snapshot_refresh, snapshot_store
from tests.factories import SystemFactory

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.usefixtures("real_stack"), pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

ORIGIN = [(b"origin", b"http://localhost")]


def _run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return async_to_sync(scenario)()


async def _connect(path: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator, await communicator.receive_json_from(timeout=5)


def _two_systems() -> tuple[System, System]:
    return SystemFactory(name="Alpha", slug="alpha"), SystemFactory(name="Beta", slug="beta")


def test_it_sends_the_current_snapshot_on_connect(
    vote_writer: VoteWriter, redis_channel_layer: object, lenient: Any
) -> None:
    alpha, beta = _two_systems()
    vote_writer.cast([(alpha, beta, Choice.A)] * 3)
    snapshot = snapshot_refresh(scope=scope_parse("arena"))
    assert snapshot is not None

    async def scenario() -> dict[str, Any]:
        communicator, frame = await _connect("/ws/leaderboards/arena/")
        await communicator.disconnect()
        return frame

    frame = _run(scenario)
    assert frame["type"] == "snapshot" and frame["scope"] == "arena"
    assert frame["snapshot"] == json.loads(json.dumps(snapshot_payload(snapshot)))
    assert frame["snapshot"]["vote_count"] == 3


def test_it_sends_no_snapshot_before_the_first_recompute(redis_channel_layer: object) -> None:
    async def scenario() -> dict[str, Any]:
        communicator, frame = await _connect("/ws/leaderboards/arena:musicality/")
        await communicator.disconnect()
        return frame

    assert _run(scenario) == {"type": "snapshot", "scope": "arena:musicality", "snapshot": None}


def test_it_refuses_an_unknown_scope_with_the_api_error_code(redis_channel_layer: object) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        communicator, frame = await _connect("/ws/leaderboards/arena:tempo/")
        closed = await communicator.receive_output(timeout=5)
        return frame, closed

    frame, closed = _run(scenario)
    assert frame["type"] == "error"
    assert frame["code"] == "unknown_scope"
    assert "arena:tempo" in frame["message"]
    assert closed == {"type": "websocket.close", "code": 4404}


def test_it_is_read_only(redis_channel_layer: object) -> None:
    async def scenario() -> list[dict[str, Any]]:
        communicator, _ = await _connect("/ws/leaderboards/arena/")
        await communicator.send_json_to({"choice": "a"})
        first = await communicator.receive_json_from(timeout=5)
        await communicator.send_to(text_data="not json")
        second = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return [first, second]

    for frame in _run(scenario):
        assert frame["type"] == "error" and frame["code"] == "read_only"


def test_a_new_snapshot_is_pushed_only_after_its_transaction_commits(
    vote_writer: VoteWriter, redis_channel_layer: object, lenient: Any
) -> None:
    alpha, beta = _two_systems()
    vote_writer.cast([(alpha, beta, Choice.A)] * 2)
    data = snapshot_compute(scope=scope_parse("arena"))

    async def scenario() -> tuple[bool, dict[str, Any], int]:
        communicator, first = await _connect("/ws/leaderboards/arena/")
        assert first["snapshot"] is None

        def store_in_a_transaction() -> tuple[int, bool]:
            with transaction.atomic():
                stored = snapshot_store(data=data)
                nothing_before_commit = async_to_sync(communicator.receive_nothing)(timeout=0.5)
            return stored.pk, nothing_before_commit

        stored_id, nothing_before_commit = await database_sync_to_async(store_in_a_transaction)()
        pushed = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return nothing_before_commit, pushed, stored_id

    nothing_before_commit, pushed, stored_id = _run(scenario)
    assert nothing_before_commit
    assert pushed["type"] == "snapshot"
    assert pushed["snapshot"]["id"] == stored_id
    assert pushed["snapshot"]["rows"] == json.loads(json.dumps(data.rows))


def test_pushes_reach_only_their_scope(vote_writer: VoteWriter, redis_channel_layer: object, lenient: Any) -> None:
    alpha, beta = _two_systems()
    vote_writer.cast([(alpha, beta, Choice.B)] * 2, musicality=Choice.A)

    async def scenario() -> tuple[dict[str, Any], bool]:
        overall, _ = await _connect("/ws/leaderboards/arena/")
        axis, _ = await _connect("/ws/leaderboards/arena:musicality/")
        await database_sync_to_async(snapshot_refresh)(scope=scope_parse("arena:musicality"))
        pushed = await axis.receive_json_from(timeout=5)
        quiet = await overall.receive_nothing(timeout=0.5)
        await overall.disconnect()
        await axis.disconnect()
        return pushed, quiet

    pushed, quiet = _run(scenario)
    assert pushed["scope"] == "arena:musicality"
    assert pushed["snapshot"]["rows"][0]["slug"] == "alpha"
    assert quiet
