"""The arena's REST API end to end over HTTP: battle, events, vote, lists, auth, errors and the schema."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from arena.models import Battle, Rater, System, Vote
from arena.raters import SESSION_KEY, ip_hash
from scoring.models import LeaderboardSnapshot
from tests.arena.arena_support import (  # noqa: F401 - autouse fixture
    arena_isolated,
    audio_fetch,
    battle_age,
    catalogue_import,
    listening_events,
)
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tmp_path: Path):  # type: ignore[no-untyped-def]
    return catalogue_import(tmp_path, systems=3, prompts=1, seconds=1.0)


def battle_start(client: APIClient) -> dict[str, Any]:
    response = client.post("/api/battles/")
    assert response.status_code == 201, response.content
    return assert_matches_schema(response, closed=True)


def listen_fully(client: APIClient, body: dict[str, Any]) -> None:
    """Fetch both clips and report enough listening of them on a battle aged enough for it."""
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    audio_fetch(client, body)
    events = listening_events(a_ms=body["min_listen_ms"]["a"], b_ms=body["min_listen_ms"]["b"])
    response = client.post(f"/api/battles/{body['id']}/events/", {"events": events}, format="json")
    assert response.status_code == 200, response.content


def test_it_starts_a_battle_with_the_agreed_shape(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)  # exactly the documented fields, each of its documented type
    battle = Battle.objects.get(public_id=body["id"])
    assert body["status"] == "open"
    assert body["prompt"] == {"text": battle.prompt.text, "lyrics": "", "reference_audio_url": None}
    assert body["clips"] == {
        "a": {"audio_url": f"http://testserver/api/battles/{body['id']}/audio/a"},
        "b": {"audio_url": f"http://testserver/api/battles/{body['id']}/audio/b"},
    }
    # the 1 s clips are shorter than the 5 s minimum: the whole clip, less 100 ms a decoder may trim at the ends
    assert body["min_listen_ms"] == {"a": 900, "b": 900}
    assert body["axes"] == ["musicality", "prompt_alignment"]
    assert body["suggestion"] is None
    assert timezone.now() < Battle.objects.get(public_id=body["id"]).expires_at


def test_it_asks_about_lyrics_only_when_the_prompt_has_them(tmp_path: Path) -> None:
    catalogue_import(tmp_path, systems=2, prompts=1, lyrics=True)
    body = battle_start(APIClient())
    assert body["axes"] == ["musicality", "prompt_alignment", "lyrics_alignment"]
    assert body["prompt"]["lyrics"].startswith("La la la")


def test_an_anonymous_browser_keeps_one_rater_for_its_session(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    first, second = battle_start(client), battle_start(client)
    raters = {Battle.objects.get(public_id=body["id"]).rater_id for body in (first, second)}
    assert len(raters) == 1
    assert client.session[SESSION_KEY] == raters.pop()
    battle_start(APIClient())
    assert Rater.objects.count() == 2


def test_a_signed_in_user_votes_as_their_own_rater(catalogue) -> None:  # type: ignore[no-untyped-def]
    user = User.objects.create_user("ada", password="correct horse battery")
    client = APIClient()
    client.force_login(user)
    body = battle_start(client)
    assert Battle.objects.get(public_id=body["id"]).rater == Rater.objects.get(user=user)


def test_it_shows_a_battle_only_to_its_own_rater(catalogue) -> None:  # type: ignore[no-untyped-def]
    owner, stranger = APIClient(), APIClient()
    body = battle_start(owner)
    battle_start(stranger)
    own = owner.get(f"/api/battles/{body['id']}/")
    assert own.status_code == 200
    assert assert_matches_schema(own, closed=True) == body
    refused = stranger.get(f"/api/battles/{body['id']}/")
    unknown = owner.get("/api/battles/00000000-0000-4000-8000-000000000000/")
    assert refused.status_code == unknown.status_code == 404
    assert_matches_schema(refused, closed=True)
    assert refused.json() == unknown.json() == {"code": "battle_not_found", "message": "No such battle."}
    assert APIClient().get(f"/api/battles/{body['id']}/").status_code == 404


def test_it_reports_the_milliseconds_played_per_side(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    response = client.post(
        f"/api/battles/{body['id']}/events/", {"events": listening_events(a_ms=900, b_ms=400)}, format="json"
    )
    assert response.status_code == 200
    assert assert_matches_schema(response, closed=True) == {"ms_played": {"a": 900, "b": 400}}


def test_it_refuses_malformed_events_with_a_json_error(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    response = client.post(
        f"/api/battles/{body['id']}/events/",
        {"events": [{"type": "rewind", "side": "c", "position_ms": -1, "client_ms": 0}]},
        format="json",
    )
    assert response.status_code == 400
    error = assert_matches_schema(response)
    assert error["code"] == "invalid_input"
    assert "rewind" in error["message"] and "details" in error


def test_a_vote_reveals_the_systems_and_the_same_vote_again_answers_the_same(catalogue) -> None:  # type: ignore[no-untyped-def]
    LeaderboardSnapshot.objects.create(
        scope="arena",
        rows=[
            {"system_id": s.pk, "rating": 1000.0 + 10 * i, "ci_low": 990.0 + 10 * i, "ci_high": 1010.0 + 10 * i}
            for i, s in enumerate(catalogue.systems)
        ],
    )
    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    vote = {"choice": "a", "musicality": "a", "reason": "warmer", "decision_ms": 12000, "client_hints": {"w": 1}}
    first = client.post(f"/api/battles/{body['id']}/vote/", vote, format="json", REMOTE_ADDR="198.51.100.7")
    assert first.status_code == 201, first.content
    battle = Battle.objects.select_related("clip_a__system", "clip_b__system").get(public_id=body["id"])
    expected = {}
    for side, system in (("a", battle.clip_a.system), ("b", battle.clip_b.system)):
        i = catalogue.systems.index(system)
        expected[side] = {
            "name": system.name, "slug": system.slug,
            "rating": 1000.0 + 10 * i, "ci_low": 990.0 + 10 * i, "ci_high": 1010.0 + 10 * i,
        }
    assert assert_matches_schema(first, closed=True) == {"choice": "a", "systems": expected}
    again = client.post(f"/api/battles/{body['id']}/vote/", vote, format="json")
    assert again.status_code == 200
    assert assert_matches_schema(again, closed=True) == first.json()
    stored = Vote.objects.get()
    assert stored.ip_hash == ip_hash("198.51.100.7") and "198.51.100.7" not in stored.ip_hash
    assert len(stored.ip_hash) == 64


def test_a_reveal_before_any_leaderboard_has_no_ratings(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    response = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "tie"}, format="json")
    assert response.status_code == 201
    assert response.json()["systems"]["a"]["rating"] is None


def test_it_refuses_a_different_second_vote_with_409(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json")
    response = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "b"}, format="json")
    assert response.status_code == 409
    assert assert_matches_schema(response)["code"] == "vote_conflict"
    events = client.post(f"/api/battles/{body['id']}/events/", {"events": []}, format="json")
    assert events.status_code == 409
    assert events.json()["code"] == "battle_voted"


def test_it_refuses_a_vote_on_an_expired_battle_with_410(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    Battle.objects.filter(public_id=body["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json")
    assert response.status_code == 410
    assert client.get(f"/api/battles/{body['id']}/").json()["status"] == "expired"
    assert response.json() == {
        "code": "battle_expired",
        "message": "This battle has expired: start a new one.",
        "details": {"expired_at": Battle.objects.get(public_id=body["id"]).expires_at.isoformat()},
    }


def test_it_refuses_a_vote_on_another_raters_battle_with_404(catalogue) -> None:  # type: ignore[no-untyped-def]
    owner, stranger = APIClient(), APIClient()
    body = battle_start(owner)
    listen_fully(owner, body)
    battle_start(stranger)
    response = stranger.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json")
    assert response.status_code == 404
    assert APIClient().post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json").status_code == 404
    assert not Vote.objects.exists()


def test_it_refuses_a_vote_before_the_minimum_listening_time(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    too_young = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json")
    assert too_young.status_code == 400
    assert too_young.json()["code"] == "battle_too_young"
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    client.post(
        f"/api/battles/{body['id']}/events/", {"events": listening_events(a_ms=1000, b_ms=300)}, format="json"
    )
    too_short = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a"}, format="json")
    assert too_short.status_code == 400
    assert too_short.json()["code"] == "listening_too_short"
    assert too_short.json()["message"] == "clip B was played 0.3 s of the required 0.9 s"


def test_a_vote_with_made_up_listening_events_and_no_audio_fetched_is_refused(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    events = listening_events(a_ms=1000, b_ms=1000)
    refused = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a", "events": events}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "audio_not_fetched",
        "message": "clip A: 0% of the audio needed for 0.9 s of listening was fetched; "
        "clip B: 0% of the audio needed for 0.9 s of listening was fetched",
        "details": {"fetched_ms": {"a": 0, "b": 0}, "required_ms": {"a": 900, "b": 900}},
    }
    battle = Battle.objects.get(public_id=body["id"])
    assert (battle.status, battle.ms_played_a, battle.ms_played_b) == ("open", 1000, 1000)  # the events count
    assert not Vote.objects.exists()


def test_a_vote_after_fetching_only_the_first_bytes_of_each_clip_is_refused_until_the_rest_is_fetched(  # type: ignore[no-untyped-def]
    catalogue,
) -> None:
    client = APIClient()
    body = battle_start(client)
    listen_fully_without_audio = listening_events(a_ms=1000, b_ms=1000)
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    for side in ("a", "b"):
        url = body["clips"][side]["audio_url"]
        assert client.head(url).status_code == 200  # a HEAD carries no audio
        for first_bytes in ("bytes=0-0", "bytes=0-1023", "bytes=0-16383"):
            assert client.get(url, HTTP_RANGE=first_bytes).status_code == 206
    refused = client.post(f"/api/battles/{body['id']}/vote/",
                          {"choice": "b", "events": listen_fully_without_audio}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "audio_not_fetched"
    # 16 KiB holds 28 frames at most (672 ms of 900), behind up to 16 KiB of this battle's padding
    assert re.fullmatch(r"clip A: \d+% of the audio needed for 0\.9 s of listening was fetched; clip B: .*",
                        refused.json()["message"])
    assert all(fetched < 900 for fetched in refused.json()["details"]["fetched_ms"].values())
    for side in ("a", "b"):  # the rest of each clip, as a player's next request after the first bytes asks it
        assert client.get(body["clips"][side]["audio_url"], HTTP_RANGE="bytes=16384-").status_code == 206
    voted = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "b"}, format="json")
    assert voted.status_code == 201, voted.content


def test_a_vote_carries_its_last_listening_events_and_asks_for_the_next_battle(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    audio_fetch(client, body)
    events = listening_events(a_ms=1000, b_ms=1000)
    voted = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a", "events": events, "next": True},
                        format="json")
    assert voted.status_code == 201, voted.content
    battle = Battle.objects.get(public_id=body["id"])
    assert (battle.ms_played_a, battle.ms_played_b, battle.status) == (1000, 1000, "voted")
    vote = Vote.objects.get(battle=battle)
    assert (vote.ms_played_a, vote.ms_played_b) == (1000, 1000)
    following = assert_matches_schema(voted, closed=True)["next_battle"]  # a whole battle, as documented
    assert following["status"] == "open" and following["id"] != body["id"]
    assert Battle.objects.get(public_id=following["id"]).rater_id == battle.rater_id
    # Without `next` the answer has no next battle, and the same vote again credits nothing more.
    again = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a", "events": events}, format="json")
    assert again.status_code == 200 and "next_battle" not in assert_matches_schema(again, closed=True)
    battle.refresh_from_db()
    assert (battle.ms_played_a, battle.ms_played_b) == (1000, 1000)


def test_the_answer_to_a_vote_with_its_next_battle_costs_no_query_of_its_own(catalogue) -> None:  # type: ignore[no-untyped-def]
    """The output serializers read what the services loaded: no lazy load of a prompt, clip or system, and nothing
    read after the services' last write."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    with CaptureQueriesContext(connection) as captured:
        voted = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "a", "next": True}, format="json")
    assert voted.status_code == 201 and assert_matches_schema(voted, closed=True)["next_battle"] is not None
    statements = [query["sql"] for query in captured]
    last_write = max(i for i, sql in enumerate(statements) if sql.startswith(("INSERT", "UPDATE")))
    assert statements[last_write + 1 :] == []
    lazy = [sql for sql in statements for table in ("arena_prompt", "arena_system") if f'FROM "{table}"' in sql]
    assert lazy == []


def test_events_sent_with_a_refused_vote_are_kept(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    battle_age(Battle.objects.get(public_id=body["id"]), 10)
    audio_fetch(client, body)
    short = client.post(f"/api/battles/{body['id']}/vote/",
                        {"choice": "b", "events": listening_events(a_ms=1000, b_ms=300)}, format="json")
    assert short.status_code == 400 and short.json()["code"] == "listening_too_short"
    battle = Battle.objects.get(public_id=body["id"])
    assert (battle.ms_played_a, battle.ms_played_b, battle.status) == (1000, 300, "open")
    assert not Vote.objects.exists()
    more = [{"type": "play", "side": "b", "position_ms": 300, "client_ms": 5000},
            {"type": "pause", "side": "b", "position_ms": 1000, "client_ms": 5700}]
    voted = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "b", "events": more}, format="json")
    assert voted.status_code == 201, voted.content
    assert Vote.objects.get().ms_played_b == 1000


def test_a_vote_asking_for_the_next_battle_when_no_pair_is_left_still_counts(  # type: ignore[no-untyped-def]
    catalogue,
) -> None:
    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    System.objects.update(active=False)
    voted = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "tie", "next": True}, format="json")
    assert voted.status_code == 201 and assert_matches_schema(voted, closed=True)["next_battle"] is None
    assert Vote.objects.count() == 1


def test_it_refuses_the_lyrics_axis_without_lyrics_with_400(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    listen_fully(client, body)
    response = client.post(
        f"/api/battles/{body['id']}/vote/", {"choice": "a", "lyrics_alignment": "a"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "axis_not_applicable"


def test_it_refuses_a_vote_with_an_unknown_choice(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    body = battle_start(client)
    response = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "neither"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert "choice" in response.json()["details"]


def test_a_script_plays_the_whole_flow_with_a_token(catalogue) -> None:  # type: ignore[no-untyped-def]
    user = User.objects.create_user("script")
    token = Token.objects.create(user=user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = battle_start(client)
    listen_fully(client, body)
    response = client.post(f"/api/battles/{body['id']}/vote/", {"choice": "both_bad"}, format="json")
    assert response.status_code == 201
    assert Vote.objects.get().rater.user == user
    assert "sessionid" not in client.cookies


def test_it_refuses_a_wrong_token(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.post("/api/battles/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "authentication_failed"


def test_an_anonymous_browser_post_needs_the_csrf_token(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    refused = client.post("/api/battles/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["message"]
    client.get("/")  # the arena page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post("/api/battles/", HTTP_X_CSRFTOKEN=token).status_code == 201


def test_a_signed_in_browser_post_needs_the_csrf_token(catalogue) -> None:  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("grace"))
    assert client.post("/api/battles/").status_code == 403


def test_it_says_when_there_is_nothing_to_compare() -> None:
    response = APIClient().post("/api/battles/")
    assert response.status_code == 503
    assert assert_matches_schema(response, closed=True)["code"] == "no_pair_available"


def test_it_lists_systems_without_their_clips(catalogue) -> None:  # type: ignore[no-untyped-def]
    response = APIClient().get("/api/systems/")
    assert response.status_code == 200
    rows = assert_matches_schema(response, closed=True)["results"]  # the documented fields and no others
    assert [row["slug"] for row in rows] == sorted(s.slug for s in catalogue.systems)
    assert rows[0]["clip_count"] == 1
    assert not any(clip.public_id in response.content.decode() for clip in catalogue.clips)


def test_it_lists_prompts(catalogue) -> None:  # type: ignore[no-untyped-def]
    response = APIClient().get("/api/prompts/")
    assert response.status_code == 200
    (row,) = assert_matches_schema(response, closed=True)["results"]
    assert row["text"] == catalogue.prompts[0].text
    assert (row["has_lyrics"], row["has_reference_audio"], row["clip_count"]) == (False, False, 3)


def test_the_schema_documents_every_arena_endpoint_and_its_errors() -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in [
        "/api/battles/",
        "/api/battles/{battle_id}/",
        "/api/battles/{battle_id}/events/",
        "/api/battles/{battle_id}/vote/",
        "/api/battles/{battle_id}/audio/{side}",
        "/api/systems/",
        "/api/prompts/",
    ]:
        assert path in paths, path
    vote = paths["/api/battles/{battle_id}/vote/"]["post"]["responses"]
    assert {"200", "201", "400", "403", "404", "409", "410", "429"} <= set(vote)
    assert set(paths["/api/battles/{battle_id}/audio/{side}"]["get"]["responses"]) >= {"200", "206", "404", "416"}
