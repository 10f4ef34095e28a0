"""Open leaderboard websockets per address: beyond EARSHOT_WS_PER_IP a socket gets an error frame and code 4429;
closing one makes room again."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from config.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://localhost")]


@pytest.fixture(autouse=True)
def in_memory_layer(settings: Any) -> None:
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    cache.clear()
    settings.EARSHOT_WS_PER_IP = 3


def _run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return async_to_sync(scenario)()


async def _open(address: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = WebsocketCommunicator(application, "/ws/leaderboards/arena/", headers=ORIGIN)
    communicator.scope["client"] = (address, 50000)
    connected, _ = await communicator.connect()
    assert connected
    return communicator, await communicator.receive_json_from(timeout=5)


async def _closed_with(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    return int(output["code"])


def test_without_a_limit_one_address_opens_as_many_sockets_as_it_likes(settings: Any) -> None:
    settings.EARSHOT_WS_PER_IP = 0

    async def scenario() -> list[str]:
        opened = [await _open("198.51.100.7") for _ in range(8)]
        for communicator, _ in opened:
            await communicator.disconnect()
        return [frame["type"] for _, frame in opened]

    assert _run(scenario) == ["snapshot"] * 8


def test_past_the_limit_a_socket_is_refused_with_4429_and_a_closed_one_makes_room() -> None:
    async def scenario() -> None:
        opened = [await _open("198.51.100.7") for _ in range(3)]
        assert [frame["type"] for _, frame in opened] == ["snapshot"] * 3
        refused, frame = await _open("198.51.100.7")
        assert frame == {"type": "error", "code": "too_many_sockets", "details": {"limit": 3},
                         "message": "Too many live leaderboards are open from this address: close some and reconnect."}
        assert await _closed_with(refused) == 4429
        await refused.disconnect()
        other, frame = await _open("203.0.113.50")  # another address is not held back
        assert frame["type"] == "snapshot"
        await opened[0][0].disconnect()
        again, frame = await _open("198.51.100.7")
        assert frame["type"] == "snapshot"
        for communicator in (other, again, opened[1][0], opened[2][0]):
            await communicator.disconnect()

    _run(scenario)


def test_refused_and_unknown_scope_sockets_leave_no_count_behind() -> None:
    async def scenario() -> None:
        for _ in range(5):
            communicator = WebsocketCommunicator(application, "/ws/leaderboards/no-such-scope/", headers=ORIGIN)
            communicator.scope["client"] = ("198.51.100.7", 50000)
            assert (await communicator.connect())[0]
            assert (await communicator.receive_json_from(timeout=5))["code"] == "unknown_scope"
            assert await _closed_with(communicator) == 4404
            await communicator.disconnect()
        opened = [await _open("198.51.100.7") for _ in range(3)]
        assert [frame["type"] for _, frame in opened] == ["snapshot"] * 3
        for communicator, _ in opened:
            await communicator.disconnect()

    _run(scenario)
