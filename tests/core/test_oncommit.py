"""core.oncommit: after-commit hooks never turn a committed write into an error; with Redis down they log."""
from __future__ import annotations

import logging

import pytest
import redis
from django.contrib.auth.models import User
from django.db import transaction

from core.oncommit import enqueue_once_on_commit


@pytest.mark.django_db(transaction=True)
def test_without_robust_hooks_a_failing_hook_turns_a_committed_write_into_an_error() -> None:
    def hook() -> None:
        raise redis.exceptions.ConnectionError("Redis is down")

    with pytest.raises(redis.exceptions.ConnectionError), transaction.atomic():
        User.objects.create_user("committed-anyway")
        transaction.on_commit(hook)
    assert User.objects.filter(username="committed-anyway").exists()  # stored, yet the caller saw an error


@pytest.mark.django_db(transaction=True)
def test_a_debounced_enqueue_with_redis_down_logs_and_the_write_stands(
    dead_cache: str, caplog: pytest.LogCaptureFixture
) -> None:
    from scoring.tasks import leaderboard_recompute

    with caplog.at_level(logging.WARNING, logger="core.oncommit"), transaction.atomic():
        User.objects.create_user("committed")
        enqueue_once_on_commit([("scoring:recompute:queued:probe", leaderboard_recompute.s("arena"))],
                               hold_seconds=5)
    assert User.objects.filter(username="committed").exists()
    assert "Redis unavailable" in caplog.text
