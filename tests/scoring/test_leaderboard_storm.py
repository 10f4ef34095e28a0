"""A storm of leaderboard reads against one web process on PostgreSQL: the connection pool bounds the connections,
a request that waits past the pool's timeout answers 503 database_busy (API and pages), never 500."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from arena.models import Choice
from scoring.models import LeaderboardSnapshot
from scoring.scopes import scope_parse
from scoring.services import snapshot_compute
from tests.factories import SystemFactory
from tests.webprocess import database_url_under_test, web_process

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.usefixtures("real_stack"), pytest.mark.realstack, pytest.mark.slow]

POOL_MAX = 4
CONCURRENT = 40  # ten times what the pool holds
HISTORY = 500


@pytest.fixture
def long_history(transactional_db: None, vote_writer: VoteWriter, settings: Any) -> None:
    """The arena scope with HISTORY snapshots of six systems (what the ratings-over-time plot reads)."""
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100
    systems = [SystemFactory() for _ in range(6)]
    vote_writer.cast([(a, b, Choice.A) for a in systems for b in systems if a != b])
    data = snapshot_compute(scope=scope_parse("arena"))
    LeaderboardSnapshot.objects.bulk_create(
        LeaderboardSnapshot(scope="arena", rows=data.rows, win_rate=data.win_rate, extra=data.extra,
                            digest=data.digest, vote_count=data.vote_count, last_vote_id=data.last_vote_id)
        for _ in range(HISTORY)
    )


@contextmanager
def peak_connections() -> Iterator[dict[str, int]]:
    """The most connections to the test database seen while the block runs, beyond those open when it started
    (this test's own), sampled from pg_stat_activity by a connection of its own that it does not count."""
    url = database_url_under_test()
    name = url.rsplit("/", 1)[1]
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    seen = {"peak": 0}
    stop = threading.Event()
    with psycopg.connect(url, autocommit=True) as watcher:
        baseline = watcher.execute(query, [name]).fetchone()[0]  # type: ignore[index]

        def sample() -> None:
            while not stop.is_set():
                count = watcher.execute(query, [name]).fetchone()[0]  # type: ignore[index]
                seen["peak"] = max(seen["peak"], count - baseline)
                stop.wait(0.005)

        thread = threading.Thread(target=sample, name="pg-stat-activity")
        thread.start()
        try:
            yield seen
        finally:
            stop.set()
            thread.join()


def _storm(url: str, paths: list[str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            return list(await asyncio.gather(*(client.get(path) for path in paths)))

    return asyncio.run(run())


def _env(**extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url_under_test(), "EARSHOT_RATE_LIMIT_IP": "100000/min", "DB_POOL_MIN": "1",
            "DB_POOL_MAX": str(POOL_MAX), "LOG_LEVEL": "WARNING", **extra}


def _distinct_reads(count: int) -> list[str]:
    # A different history length each, so that no read is answered from the snapshot cache: every one reads.
    return [f"/api/leaderboards/arena/?history={HISTORY - n}" for n in range(count)]


def test_without_the_pool_a_storm_of_reads_opens_more_connections_than_the_pool_would(long_history: None) -> None:
    with web_process(_env(DB_POOL="0")) as url, peak_connections() as seen:
        answers = _storm(url, _distinct_reads(CONCURRENT))
    assert {answer.status_code for answer in answers} == {200}  # this PostgreSQL allows them all, yet:
    assert seen["peak"] > POOL_MAX


def test_a_storm_of_reads_answers_200_within_the_pools_connections(long_history: None) -> None:
    with web_process(_env(DB_POOL_TIMEOUT="60")) as url, peak_connections() as seen:
        answers = _storm(url, _distinct_reads(CONCURRENT))
        repeated = _storm(url, [f"/api/leaderboards/arena/?history={HISTORY}"] * CONCURRENT)
    assert [answer.status_code for answer in answers + repeated] == [200] * (2 * CONCURRENT)
    assert {len(answer.json()["history"]) for answer in repeated} == {HISTORY}
    assert 0 < seen["peak"] <= POOL_MAX


def test_a_request_that_waits_past_the_pool_timeout_answers_503_database_busy(long_history: None) -> None:
    with web_process(_env(DB_POOL_MAX="1", DB_POOL_TIMEOUT="0.01")) as url:
        answers = _storm(url, _distinct_reads(CONCURRENT // 2) + ["/leaderboard/"] * (CONCURRENT // 2))
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 503}, statuses
    busy = [answer for answer in answers if answer.status_code == 503]
    assert busy, "no request waited past the pool's timeout"
    for answer in busy:
        assert answer.headers["Retry-After"] == "2"
        assert answer.json()["code"] == "database_busy"
    assert {answer.url.path for answer in busy} == {"/api/leaderboards/arena/", "/leaderboard/"}
