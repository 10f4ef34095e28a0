"""Websocket consumers of scoring: a leaderboard's current snapshot on connect, then every new one pushed to it."""
from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from arena.raters import ip_hash
from core.client_limits import open_count_add, open_count_remove
from core.errors import EarshotError
from scoring.errors import ReadOnly, TooManySockets
from scoring.scopes import scope_parse
from scoring.selectors import snapshot_current
from scoring.serializers import snapshot_payload

SOCKETS_LIMIT_NAME = "ws-open"


def _current_payload(scope: str) -> dict[str, Any] | None:
    snapshot = snapshot_current(scope=scope)
    return None if snapshot is None else snapshot_payload(snapshot)


def error_frame(error: EarshotError) -> dict[str, Any]:
    """The same {code, message, details} body as the REST API's errors, tagged as an error frame."""
    return {"type": "error", **error.as_dict()}


class LeaderboardConsumer(AsyncJsonWebsocketConsumer):
    """ws/leaderboards/<scope>/: read-only; sends {"type": "snapshot", "snapshot": ...} frames, oldest first."""

    group: str | None = None
    client_hash: str | None = None  # set while this socket is counted against its address

    async def connect(self) -> None:
        await self.accept()
        try:
            await self._count_client()
            # A family's scope (campaign:<slug>) is looked up in the database: not from the event loop.
            scope = await database_sync_to_async(scope_parse)(self.scope["url_route"]["kwargs"]["scope"])
        except EarshotError as error:
            await self.send_json(error_frame(error))
            # 4000 + HTTP status, so a client can tell "no such leaderboard" (4404) or too many sockets (4429)
            # from a dropped line.
            await self.close(code=4000 + error.status)
            return
        # Join before reading the current snapshot, so a push that lands in between is not lost; the client
        # keeps whichever snapshot has the larger id.
        self.group = scope.group
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "snapshot", "scope": scope.name,
                              "snapshot": await database_sync_to_async(_current_payload)(scope.name)})

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.client_hash is not None:
            await sync_to_async(open_count_remove, thread_sensitive=False)(
                name=SOCKETS_LIMIT_NAME, identity=self.client_hash
            )
            self.client_hash = None

    async def _count_client(self) -> None:
        """Count this socket against its address (EARSHOT_WS_PER_IP; 0 is no limit), or raise TooManySockets."""
        limit = settings.EARSHOT_WS_PER_IP
        if limit <= 0:
            return
        client = self.scope.get("client") or ("", 0)
        hashed = ip_hash(client[0] or "")
        counted = await sync_to_async(open_count_add, thread_sensitive=False)(
            name=SOCKETS_LIMIT_NAME, identity=hashed, limit=limit
        )
        if not counted:
            raise TooManySockets(limit=limit)
        self.client_hash = hashed

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # Anything a client sends, JSON or not, gets the same answer: nothing is accepted here.
        await self.send_json(error_frame(ReadOnly()))

    async def leaderboard_snapshot(self, event: dict[str, Any]) -> None:
        """A snapshot written by a recompute; its payload was serialised before the commit, sent as it is."""
        snapshot = json.loads(event["payload"])
        await self.send_json({"type": "snapshot", "scope": snapshot["scope"], "snapshot": snapshot})
