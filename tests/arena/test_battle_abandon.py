"""The open-battle cap: a rater holds at most EARSHOT_MAX_OPEN_BATTLES open battles; a new one closes the oldest
as abandoned, which is recorded on the battle and counted on the rater, and takes no vote or telemetry."""
from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from arena.models import Battle, Rater
from arena.raters import ip_hash
from arena.services import battle_create
from tests.arena.arena_support import (  # noqa: F401 - autouse fixture
    arena_isolated,
    battle_age,
    catalogue_rows,
    listening_events,
)
from tests.factories import BattleFactory, RaterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalogue() -> None:
    catalogue_rows()


def open_ids(rater: Rater) -> list[int]:
    opened = Battle.objects.filter(rater=rater, status=Battle.Status.OPEN).order_by("id")
    return list(opened.values_list("id", flat=True))


def test_the_fourth_battle_closes_the_oldest_as_abandoned() -> None:
    rater = RaterFactory()
    first, second, third = (battle_create(rater=rater) for _ in range(3))
    assert open_ids(rater) == [first.pk, second.pk, third.pk]

    fourth = battle_create(rater=rater)

    assert open_ids(rater) == [second.pk, third.pk, fourth.pk]
    first.refresh_from_db()
    assert first.status == Battle.Status.ABANDONED
    assert first.abandoned_at is not None and first.abandoned_at >= first.created_at
    rater.refresh_from_db()
    assert (rater.battles_opened, rater.battles_abandoned) == (4, 1)


def test_the_cap_is_a_setting(settings: Any) -> None:
    settings.EARSHOT_MAX_OPEN_BATTLES = 1
    rater = RaterFactory()
    battles = [battle_create(rater=rater) for _ in range(4)]
    assert open_ids(rater) == [battles[-1].pk]
    rater.refresh_from_db()
    assert (rater.battles_opened, rater.battles_abandoned) == (4, 3)


def test_voted_and_expired_battles_do_not_count_against_the_cap() -> None:
    rater = RaterFactory()
    kept = [BattleFactory(rater=rater, status=status) for status in (Battle.Status.VOTED, Battle.Status.EXPIRED)]
    opened = [battle_create(rater=rater) for _ in range(3)]
    assert open_ids(rater) == [battle.pk for battle in opened]
    assert {battle.status for battle in Battle.objects.filter(pk__in=[b.pk for b in kept])} == {"voted", "expired"}


def test_another_raters_battles_are_left_alone() -> None:
    mine, theirs = RaterFactory(), RaterFactory()
    their_battles = [battle_create(rater=theirs) for _ in range(3)]
    for _ in range(5):
        battle_create(rater=mine)
    assert open_ids(theirs) == [battle.pk for battle in their_battles]


def test_a_vote_on_an_abandoned_battle_answers_410_battle_abandoned() -> None:
    client = APIClient()
    first = client.post("/api/battles/").json()
    battle_age(Battle.objects.get(public_id=first["id"]), 10)
    for _ in range(3):
        assert client.post("/api/battles/").status_code == 201

    events = listening_events(a_ms=first["min_listen_ms"]["a"], b_ms=first["min_listen_ms"]["b"])
    refused = client.post(f"/api/battles/{first['id']}/vote/", {"choice": "a", "events": events}, format="json")

    assert refused.status_code == 410
    assert refused.json()["code"] == "battle_abandoned"
    assert "newer" in refused.json()["message"]
    assert not Battle.objects.get(public_id=first["id"]).status == Battle.Status.VOTED


def test_listening_events_on_an_abandoned_battle_answer_410_too() -> None:
    client = APIClient()
    first = client.post("/api/battles/").json()
    for _ in range(3):
        client.post("/api/battles/")
    response = client.post(
        f"/api/battles/{first['id']}/events/", {"events": listening_events(a_ms=500, b_ms=500)}, format="json"
    )
    assert response.status_code == 410
    assert response.json()["code"] == "battle_abandoned"


def test_the_battle_itself_says_it_was_abandoned() -> None:
    client = APIClient()
    first = client.post("/api/battles/").json()
    for _ in range(3):
        client.post("/api/battles/")
    assert client.get(f"/api/battles/{first['id']}/").json()["status"] == "abandoned"


def test_a_new_rater_keeps_the_salted_hash_of_its_address() -> None:
    APIClient().post("/api/battles/", REMOTE_ADDR="198.51.100.7")
    rater = Rater.objects.get()
    assert rater.ip_hash == ip_hash("198.51.100.7")
    assert "198.51.100.7" not in rater.ip_hash
