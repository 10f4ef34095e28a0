"""The SQL a vote costs on the arena page's flow, pinned: an anonymous browser fetches both clips (the vote checks
the audio fetched), then votes with its last listening events and asks for the next battle (NOTES.md, "A lean vote
path")."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from arena.models import Battle, Vote
from tests.arena.arena_support import (  # noqa: F401 - autouse fixture
    arena_isolated,
    battle_age,
    catalogue_import,
    listening_events,
)

pytestmark = pytest.mark.django_db(transaction=True)  # the real BEGIN and COMMIT, not savepoints


def kinds(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split(" ", 1)[0] for query in captured]


def vote_on_the_page(client: APIClient, body: dict[str, Any]) -> tuple[list[list[str]], list[str], dict[str, Any]]:
    """Both clips fetched, then the vote with its events and `next`: the statements of each request, and the next
    battle."""
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    fetches = []
    for side in ("a", "b"):
        with CaptureQueriesContext(connection) as fetched:
            assert client.get(body["clips"][side]["audio_url"]).status_code == 200
        fetches.append(kinds(fetched))
    events = listening_events(a_ms=body["min_listen_ms"]["a"], b_ms=body["min_listen_ms"]["b"])
    with CaptureQueriesContext(connection) as voted:
        answer = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a", "events": events, "next": True},
                             format="json")
    assert answer.status_code == 201, answer.content
    following = answer.json()["next_battle"]
    assert following is not None
    return fetches, kinds(voted), following


def test_a_vote_on_the_page_costs_twenty_three_statements_with_its_two_audio_fetches(
    tmp_path: Path, settings: Any
) -> None:
    # As in a running server: the sampling catalogue and the reveal's ratings are per-process memos, warm after
    # the first vote.
    settings.EARSHOT_SAMPLING_CACHE_SECONDS = 600
    settings.EARSHOT_REVEAL_RATINGS_CACHE_SECONDS = 600
    catalogue_import(tmp_path, systems=3, prompts=1, seconds=1.0)
    client = APIClient()
    created = client.post("/api/battles/")
    assert created.status_code == 201
    _, _, following = vote_on_the_page(client, created.json())

    fetches, voted, _ = vote_on_the_page(client, following)
    assert Vote.objects.count() == 2
    # the session, then the battle locked and its fetched audio saved; the session's rater is not read
    assert fetches == [["SELECT", "BEGIN", "SELECT", "UPDATE", "COMMIT"]] * 2
    # the session; the vote (battle locked, vote inserted, battle closed); the next battle (the rater's last pair,
    # the picked clips still showable, the rater locked, the battle inserted, battles beyond the cap closed)
    assert voted == [
        "SELECT",
        "BEGIN", "SELECT", "INSERT", "UPDATE", "COMMIT",
        "SELECT", "SELECT", "BEGIN", "UPDATE", "INSERT", "UPDATE", "COMMIT",
    ]
    assert len(voted) + sum(len(fetch) for fetch in fetches) == 23
