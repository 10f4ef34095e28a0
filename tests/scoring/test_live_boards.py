"""Leaderboard websockets on the real stack (uvicorn, the Redis channel layer): an idle socket stays connected well
past a minute and then still receives a push, and a closed socket leaves its group; through nginx too, as
production serves them (its 60 s default read timeout would cut an idle socket)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from arena.models import Choice
from scoring.scopes import scope_parse
from scoring.services import snapshot_refresh
from tests.browser import LiveServer, asgi_live_server, off_loop  # noqa: F401 - fixture
from tests.factories import SystemFactory
from tests.splitstack import SplitStack, collected_static, split_stack  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.usefixtures("real_stack"), pytest.mark.realstack, pytest.mark.slow]

# The channel layer's blocking pop waits 5 s; redis-py's default socket timeout is 5 s too.
IDLE_SECONDS = 75.0


def _open(server: LiveServer | SplitStack) -> ClientConnection:
    return connect(f"{server.ws_url}/ws/leaderboards/arena/", origin="http://127.0.0.1", open_timeout=10)


def _idle_then_still_open(socket: ClientConnection, seconds: float) -> bool:
    """Wait `seconds` without a push: True when the socket is still open at the end (nothing came, nothing broke)."""
    try:
        frame = socket.recv(timeout=seconds)
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False
    pytest.fail(f"an unexpected frame arrived while idle: {frame!r}")


def _group_members(settings: Any) -> set[bytes]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    key = layer._group_key(scope_parse("arena").group)  # type: ignore[union-attr]  # channels_redis's own naming
    return set(redis.Redis.from_url(settings.REDIS_URL).zrange(key, 0, -1))


def _vote_and_recompute(writer: VoteWriter) -> None:
    a, b = SystemFactory(), SystemFactory()
    writer.cast([(a, b, Choice.A), (b, a, Choice.TIE)])
    snapshot_refresh(scope=scope_parse("arena"))  # pushes on commit, as the worker's recompute does


def test_without_a_longer_socket_timeout_an_idle_socket_is_dropped(
    asgi_live_server: LiveServer,  # noqa: F811
    settings: Any, redis_channel_layer: Any
) -> None:
    # What the layer did with its hosts given as a bare URL: redis-py's 5 s socket timeout under a 5 s BRPOP.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [settings.REDIS_URL]}}}
    with _open(asgi_live_server) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "snapshot"
        assert not _idle_then_still_open(socket, 15.0)


def test_an_idle_socket_stays_connected_past_a_minute_then_gets_the_push_and_leaves_its_group_on_close(
    split_stack: Callable[..., SplitStack],  # noqa: F811
    vote_writer: VoteWriter, lenient: Any, settings: Any, redis_channel_layer: Any
) -> None:
    before = _group_members(settings)
    with _open(split_stack()) as socket:
        assert json.loads(socket.recv(timeout=10)) == {"type": "snapshot", "scope": "arena", "snapshot": None}
        joined = _group_members(settings) - before
        assert len(joined) == 1

        assert _idle_then_still_open(socket, IDLE_SECONDS)
        off_loop(lambda: _vote_and_recompute(vote_writer))
        pushed = json.loads(socket.recv(timeout=20))
        assert pushed["type"] == "snapshot" and pushed["snapshot"]["vote_count"] == 2

    from tests.waiting import wait_for

    wait_for("the closed socket to leave its group", lambda: not (joined & _group_members(settings)))
