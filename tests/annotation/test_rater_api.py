"""The campaign rater API over HTTP: join, consent, next item, skip, and voting through the arena's own endpoint."""
from __future__ import annotations

import random
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotation.assignment import assignment_next
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater, GoldPair
from arena.models import Battle, Vote
from tests.annotation.campaign_support import SmallCampaign, small_campaign
from tests.arena.arena_support import arena_isolated, audio_fetch, battle_age, listening_events  # noqa: F401
from tests.factories import ClipFactory
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


def api(client: APIClient, slug: str, step: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/campaigns/{slug}/{step}/", body or {}, format="json")


def joined(made: SmallCampaign, *, consent: bool = True) -> APIClient:
    client = APIClient()
    response = api(client, made.campaign.slug, "join", {"invite": made.campaign.invite_token})
    assert response.status_code == 201, response.content
    if consent:
        assert api(client, made.campaign.slug, "consent").status_code == 200
    return client


def next_item(client: APIClient, slug: str) -> dict[str, Any]:
    response = api(client, slug, "next")
    assert response.status_code == 200, response.content
    return assert_matches_schema(response, closed=True)


def listen_and_vote(client: APIClient, battle: dict[str, Any], choice: str = "a", **extra: Any) -> Any:
    battle_age(Battle.objects.get(public_id=battle["id"]), 10)
    audio_fetch(client, battle)
    events = listening_events(a_ms=battle["min_listen_ms"]["a"], b_ms=battle["min_listen_ms"]["b"])
    return client.post(f"/api/battles/{battle['id']}/vote/", {"choice": choice, "events": events, **extra},
                       format="json")


class Fixed(random.Random):
    """A random source whose random() is always `value` (0.0: every gold draw says gold)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_a_bad_invite_is_refused_and_the_right_one_joins_once() -> None:
    made = small_campaign(consent="I agree to take part.")
    client = APIClient()
    refused = api(client, "pilot", "join", {"invite": "not-the-token"})
    assert refused.status_code == 403
    assert assert_matches_schema(refused)["code"] == "invite_invalid"
    assert api(client, "pilot", "join", {}).json()["code"] == "invite_invalid"
    assert not CampaignRater.objects.exists()
    first = api(client, "pilot", "join", {"invite": made.campaign.invite_token})
    assert first.status_code == 201
    body = assert_matches_schema(first, closed=True)
    assert body["consented"] is False and body["completed"] is False
    assert body["consent_html"] == "<p>I agree to take part.</p>"
    assert api(client, "pilot", "join", {"invite": made.campaign.invite_token}).status_code == 200
    assert CampaignRater.objects.count() == 1
    assert api(client, "nope", "join", {"invite": "x"}).json()["code"] == "campaign_not_found"


def test_items_need_consent_first() -> None:
    made = small_campaign(consent="You may stop at any time.")
    client = joined(made, consent=False)
    refused = api(client, "pilot", "next")
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    assert not Assignment.objects.exists()
    consented = api(client, "pilot", "consent")
    assert consented.status_code == 200 and assert_matches_schema(consented)["consented"] is True
    assert next_item(client, "pilot")["kind"] == "item"


def test_strangers_closed_campaigns_and_unknown_ones_get_clear_errors() -> None:
    made = small_campaign()
    stranger = APIClient()
    assert api(stranger, "pilot", "next").json()["code"] == "not_a_member"
    assert api(stranger, "missing", "next").status_code == 404
    client = joined(made)
    Campaign.objects.filter(pk=made.campaign.pk).update(status=Campaign.Status.CLOSED)
    closed = api(client, "pilot", "next")
    assert closed.status_code == 410 and assert_matches_schema(closed)["code"] == "campaign_closed"
    assert api(APIClient(), "pilot", "join", {"invite": made.campaign.invite_token}).status_code == 410


def test_a_rater_votes_through_the_arena_endpoint_with_its_listening_checks_and_gets_no_arena_battle() -> None:
    made = small_campaign(systems=3, prompts=1, overlap=1, axes=["overall", "musicality"])
    client = joined(made)
    item = next_item(client, "pilot")
    battle = item["battle"]
    assert item["kind"] == "item" and item["progress"] == {"practice": False, "number": 1, "about": 3}
    assert battle["axes"] == ["musicality"]  # the campaign's axes only
    assert battle["min_listen_ms"] == {"a": 900, "b": 900}  # the campaign's 1 s minimum, on 1 s clips: whole
    assert next_item(client, "pilot")["battle"]["id"] == battle["id"]  # the same lease until it is done

    too_soon = client.post(f"/api/battles/{battle['id']}/vote/", {"choice": "a"}, format="json")
    assert too_soon.status_code == 400
    assert too_soon.json()["code"] in {"battle_too_young", "listening_too_short", "audio_not_fetched"}

    voted = listen_and_vote(client, battle, "b", musicality="b", next=True)
    assert voted.status_code == 201, voted.content
    body = assert_matches_schema(voted)
    assert body["systems"] is None  # the campaign keeps the systems hidden
    assert body["next_battle"] is None  # `next` is ignored on a campaign battle: no arena battle was opened
    assert not Battle.objects.filter(mode=Battle.Mode.ARENA).exists()
    vote = Vote.objects.get()
    assert vote.choice == "b" and vote.musicality == "b"
    assert Assignment.objects.get(battle__public_id=battle["id"]).status == Assignment.Status.DONE

    second = next_item(client, "pilot")
    assert second["battle"]["id"] != battle["id"]
    assert second["progress"] == {"practice": False, "number": 2, "about": 3}


def test_practice_items_come_first_and_are_labelled_practice() -> None:
    made = small_campaign(systems=2, prompts=2, overlap=1, practice_items=1)
    first = made.regular_pairs()[0]
    CampaignPair.objects.filter(pk=first.pk).update(kind=CampaignPair.Kind.PRACTICE)
    client = joined(made)
    item = next_item(client, "pilot")
    assert item["kind"] == "practice"
    assert item["progress"] == {"practice": True, "number": 1, "about": 1}
    assert listen_and_vote(client, item["battle"]).status_code == 201
    after = next_item(client, "pilot")
    assert after["kind"] == "item" and after["progress"]["number"] == 1


def _gold_campaign() -> SmallCampaign:
    made = small_campaign(systems=3, prompts=1, overlap=3, gold_rate=0.2)
    prompt, system = made.prompts[0], made.systems[0]
    clean = made.clips[system.pk, prompt.pk]
    damaged = ClipFactory(system=system, prompt=prompt, duration_s=1.0)
    pair = CampaignPair.objects.create(campaign=made.campaign, prompt=prompt, clip_a=clean, clip_b=damaged,
                                       kind=CampaignPair.Kind.GOLD, overlap=3, position=99)
    GoldPair.objects.create(pair=pair, clean_clip=clean, damaged_clip=damaged, damage="clipped at -30 dB")
    return made


def _shape(value: Any) -> Any:
    """The answer with every id, URL and time replaced by its type: what could tell two items apart by form."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, str) and ("/" in value or "-" in value or ":" in value):
        return "str"
    return value


def test_a_gold_item_cannot_be_told_from_a_regular_one_in_the_api() -> None:
    made = _gold_campaign()
    gold_client, regular_client = joined(made), joined(made)
    gold_member, regular_member = (
        CampaignRater.objects.get(rater_id=client.session["earshot_rater_id"]) for client in (gold_client,
                                                                                               regular_client)
    )
    gold_lease = assignment_next(member=gold_member, rng=Fixed(0.0)).assignment
    regular_lease = assignment_next(member=regular_member, rng=Fixed(0.99)).assignment
    assert gold_lease is not None and gold_lease.kind == CampaignPair.Kind.GOLD
    assert regular_lease is not None and regular_lease.kind == CampaignPair.Kind.REGULAR

    gold, regular = next_item(gold_client, "pilot"), next_item(regular_client, "pilot")
    assert gold["battle"]["id"] == str(gold_lease.battle.public_id)
    assert gold["kind"] == regular["kind"] == "item"
    assert gold["progress"] == regular["progress"]
    gold_battle, regular_battle = gold["battle"], regular["battle"]
    assert gold_battle["prompt"] == regular_battle["prompt"]  # the same prompt text, lyrics and no reference
    assert _shape(gold) == _shape(regular)
    # Nor does the battle read back through the arena, or the vote's answer, differ.
    for client, battle in ((gold_client, gold_battle), (regular_client, regular_battle)):
        detail = client.get(f"/api/battles/{battle['id']}/")
        assert detail.status_code == 200 and set(detail.json()) == set(battle)
    gold_vote, regular_vote = (listen_and_vote(client, battle) for client, battle in
                               ((gold_client, gold_battle), (regular_client, regular_battle)))
    assert gold_vote.status_code == regular_vote.status_code == 201
    assert _shape(gold_vote.json()) == _shape(regular_vote.json()) == {"choice": "a", "systems": None}
    assert next_item(gold_client, "pilot")["progress"]["number"] == 2  # the gold item counted like any other


def test_a_skip_keeps_its_reason_and_the_next_item_follows() -> None:
    made = small_campaign(systems=3, prompts=1, overlap=1)
    client = joined(made)
    battle = next_item(client, "pilot")["battle"]
    bad = api(client, "pilot", "skip", {"battle": battle["id"], "reason": "bored"})
    assert bad.status_code == 400 and assert_matches_schema(bad)["code"] == "invalid_input"
    skipped = api(client, "pilot", "skip", {"battle": battle["id"], "reason": "audio_problem", "note": "B is silent"})
    assert skipped.status_code == 204
    lease = Assignment.objects.get(battle__public_id=battle["id"])
    assert lease.status == Assignment.Status.SKIPPED and lease.skip_reason == "audio_problem: B is silent"
    again = api(client, "pilot", "skip", {"battle": battle["id"], "reason": "other"})
    assert again.status_code == 409 and again.json()["code"] == "lease_lost"
    after = next_item(client, "pilot")
    assert after["battle"]["id"] != battle["id"] and after["progress"]["number"] == 2


def test_a_finished_rater_gets_the_completion_code_and_redirect() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1,
                          completion_url="https://app.prolific.com/submissions/complete?cc=")
    client = joined(made)
    assert listen_and_vote(client, next_item(client, "pilot")["battle"]).status_code == 201
    done = next_item(client, "pilot")
    code = made.campaign.completion_code
    assert done == {"done": True, "kind": None, "battle": None, "progress": None,
                    "completion": {"code": code,
                                   "redirect_url": f"https://app.prolific.com/submissions/complete?cc={code}"}}
