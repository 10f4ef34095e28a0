"""A campaign's boards can be followed live: ws/leaderboards/campaign:<slug>[:<axis>]/ looks the campaign up (off the
event loop) and answers like the arena's, and an unknown campaign is refused with 4404 (the dashboard's sockets)."""
from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.annotation.campaign_support import small_campaign

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.usefixtures("real_stack"), pytest.mark.realstack, pytest.mark.django_db(transaction=True)]

ORIGIN = [(b"origin", b"http://localhost")]


def _first_frame(path: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any] | None]:
        communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
        connected, _ = await communicator.connect()
        assert connected
        frame = await communicator.receive_json_from(timeout=5)
        closed = None
        if frame["type"] == "error":
            closed = await communicator.receive_output(timeout=5)
        else:
            await communicator.disconnect()
        return frame, closed

    return async_to_sync(scenario)()


def test_a_campaign_board_socket_connects_and_an_unknown_campaign_is_refused(redis_channel_layer: object) -> None:
    small_campaign(axes=["overall", "musicality"])
    for scope in ("campaign:pilot", "campaign:pilot:musicality"):
        assert _first_frame(f"/ws/leaderboards/{scope}/") == (
            {"type": "snapshot", "scope": scope, "snapshot": None}, None
        )
    frame, closed = _first_frame("/ws/leaderboards/campaign:nowhere/")
    assert frame["type"] == "error" and frame["code"] == "unknown_scope"
    assert closed == {"type": "websocket.close", "code": 4404}
