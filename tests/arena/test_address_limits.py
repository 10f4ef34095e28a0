"""Limits per hashed client address: new anonymous raters per hour and votes per day, answered 429 `throttled`
with Retry-After. The throttles' clock is held still, so no test depends on where the wall clock's hour or day
happens to be."""
from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from arena.models import Battle, Rater
from tests.arena.arena_support import (  # noqa: F401 - autouse fixture
    arena_isolated,
    audio_fetch,
    battle_age,
    catalogue_rows,
    listening_events,
)

pytestmark = pytest.mark.django_db
HOUR, DAY = 3600, 86400
# 2033-05-18 03:33:20 UTC: 33 min 20 s into its hour, 12,800 s into its day
FROZEN = 2_000_000_000.0
ADDRESS, OTHER_ADDRESS = "203.0.113.50", "203.0.113.51"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    held = Clock(FROZEN)
    monkeypatch.setattr("arena.throttles.throttle_clock", held)
    return held


@pytest.fixture(autouse=True)
def catalogue() -> None:
    catalogue_rows()


def new_visit(address: str = ADDRESS) -> tuple[APIClient, Any]:
    client = APIClient(REMOTE_ADDR=address)
    return client, client.post("/api/battles/")


def test_it_limits_new_anonymous_raters_per_address_per_hour(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_NEW_RATERS_PER_IP = "3/hour"
    statuses = [new_visit()[1].status_code for _ in range(3)]
    _, refused = new_visit()

    assert statuses == [201, 201, 201]
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled"
    assert "new raters from your address" in body["message"]
    assert int(refused["Retry-After"]) == HOUR - FROZEN % HOUR
    assert Rater.objects.count() == 3


def test_a_rater_already_made_keeps_opening_battles(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_NEW_RATERS_PER_IP = "1/hour"
    client, first = new_visit()
    assert first.status_code == 201
    assert [client.post("/api/battles/").status_code for _ in range(5)] == [201] * 5
    assert new_visit()[1].status_code == 429


def test_signed_in_raters_are_not_new_anonymous_raters(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_NEW_RATERS_PER_IP = "1/hour"
    assert new_visit()[1].status_code == 201
    for name in ("ana", "ben"):
        client = APIClient(REMOTE_ADDR=ADDRESS)
        client.force_login(User.objects.create_user(name))
        assert client.post("/api/battles/").status_code == 201


def test_another_address_and_the_next_hour_start_afresh(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_NEW_RATERS_PER_IP = "1/hour"
    assert new_visit()[1].status_code == 201
    assert new_visit()[1].status_code == 429
    assert new_visit(OTHER_ADDRESS)[1].status_code == 201
    clock.now += HOUR - FROZEN % HOUR
    assert new_visit()[1].status_code == 201


def ready_battle(client: APIClient) -> dict[str, Any]:
    """A battle of this client, old enough and listened to enough for a vote."""
    body = client.post("/api/battles/").json()
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    audio_fetch(client, body)
    events = listening_events(a_ms=body["min_listen_ms"]["a"], b_ms=body["min_listen_ms"]["b"])
    assert client.post(f"/api/battles/{body['id']}/events/", {"events": events}, format="json").status_code == 200
    return body


def vote(client: APIClient, body: dict[str, Any]) -> Any:
    return client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json")


def test_it_limits_votes_per_address_per_day_across_raters(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_VOTES_PER_IP = "2/day"
    first, second = APIClient(REMOTE_ADDR=ADDRESS), APIClient(REMOTE_ADDR=ADDRESS)
    assert vote(first, ready_battle(first)).status_code == 201
    assert vote(second, ready_battle(second)).status_code == 201

    refused = vote(first, ready_battle(first))

    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled"
    assert "votes from your address" in body["message"]
    assert int(refused["Retry-After"]) == DAY - FROZEN % DAY
    assert Battle.objects.filter(status=Battle.Status.VOTED).count() == 2


def test_votes_from_another_address_or_the_next_day_are_taken(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_VOTES_PER_IP = "1/day"
    client = APIClient(REMOTE_ADDR=ADDRESS)
    assert vote(client, ready_battle(client)).status_code == 201
    waiting = ready_battle(client)
    assert vote(client, waiting).status_code == 429

    elsewhere = APIClient(REMOTE_ADDR=OTHER_ADDRESS)
    assert vote(elsewhere, ready_battle(elsewhere)).status_code == 201
    clock.now += DAY - FROZEN % DAY
    assert vote(client, waiting).status_code == 201


def test_the_vote_limit_leaves_battles_alone(settings: Any, clock: Clock) -> None:
    settings.EARSHOT_VOTES_PER_IP = "1/day"
    client = APIClient(REMOTE_ADDR=ADDRESS)
    assert vote(client, ready_battle(client)).status_code == 201
    assert [client.post("/api/battles/").status_code for _ in range(3)] == [201] * 3
