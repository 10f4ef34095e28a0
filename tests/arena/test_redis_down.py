"""With Redis down (cache, broker and channel layer on a port nobody listens on) no vote is lost: the rate limiter
lets requests through, after-commit hooks log instead of failing the committed vote, and the periodic full
recompute counts the votes once Redis is back. (The after-commit hooks on their own: tests/core/test_oncommit.py.)"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory

from arena.models import Battle, Vote
from arena.throttles import IpThrottle
from core.cache import cache_incr_many
from scoring.selectors import snapshot_current
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401 - autouse fixture
from tests.webprocess import closed_port, database_url_under_test, web_process

pytest_plugins = ["tests.realstack"]


def _throttle_allows() -> bool:
    request = APIRequestFactory().post("/api/battles/", REMOTE_ADDR="203.0.113.9")
    return IpThrottle().allow_request(request, view=None)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_without_the_guard_the_rate_limiters_counter_raises_on_a_dead_redis(dead_cache: str) -> None:
    with pytest.raises(redis.exceptions.ConnectionError):
        cache_incr_many([("earshot:throttle:probe", 60)])


@pytest.mark.django_db
def test_the_rate_limiter_lets_the_request_through_and_logs_when_redis_is_down(
    dead_cache: str, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EARSHOT_RATE_LIMIT_IP = "1/min"
    with caplog.at_level(logging.WARNING, logger="arena.throttles"):
        assert _throttle_allows() and _throttle_allows()
    assert "cache unavailable" in caplog.text


def _arena_vote_count() -> int:
    snapshot = snapshot_current(scope="arena")
    return -1 if snapshot is None else snapshot.vote_count


@pytest.mark.realstack
@pytest.mark.slow
@pytest.mark.usefixtures("real_stack")
def test_votes_cast_while_redis_is_down_answer_201_and_the_full_recompute_counts_them(
    tmp_path: Path, transactional_db: None, settings: Any, celery_app_on_queue: Any, celery_queue: str
) -> None:
    from scoring.tasks import leaderboards_recompute_all
    from tests.realstack import celery_worker_running
    from tests.waiting import wait_for

    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100
    catalogue_import(tmp_path, systems=3, prompts=2, seconds=1.0)
    token = Token.objects.create(user=User.objects.create_user("rater-in-an-outage")).key
    dead = f"redis://127.0.0.1:{closed_port()}/4"
    env = {
        "DATABASE_URL": database_url_under_test(), "REDIS_URL": dead, "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "EARSHOT_MIN_LISTEN_SECONDS": "0", "EARSHOT_LISTEN_SLACK_MS": "0",
        # the limits stay on: their counters live in the dead Redis
        "EARSHOT_RATE_LIMIT_RATER": "120/min", "EARSHOT_RATE_LIMIT_IP": "600/min",
    }
    statuses = []
    with web_process(env) as url, httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"},
                                               timeout=30) as client:
        for choice in ["a", "b", "tie", "a", "b"]:
            battle = client.post("/api/battles/")
            assert battle.status_code == 201, battle.text
            vote = client.post(f"/api/battles/{battle.json()['id']}/vote/", json={"choice": choice})
            statuses.append(vote.status_code)
    assert statuses == [201] * 5
    assert Vote.objects.count() == 5 and Battle.objects.filter(status=Battle.Status.VOTED).count() == 5
    assert snapshot_current(scope="arena") is None  # no recompute reached the dead broker

    # Redis is back (the real one): beat's periodic full recompute catches the board up.
    with celery_worker_running(celery_app_on_queue, celery_queue):
        leaderboards_recompute_all.delay()
        wait_for("the full recompute to count the 5 votes on the arena board", lambda: _arena_vote_count() == 5)
