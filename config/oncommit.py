"""Side effects that must wait for the surrounding transaction to commit: Celery enqueues and channel broadcasts."""
from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from celery import Task
from channels.layers import get_channel_layer
from django.db import transaction


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Queue a Celery task once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs))


def broadcast_on_commit(group: str, message_type: str, payload: dict[str, Any]) -> None:
    """Send `payload` to a channel group after commit; it is serialised now, so later changes cannot leak in."""
    frozen = json.dumps(payload)

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, {"type": message_type, "payload": frozen})

    transaction.on_commit(send)
