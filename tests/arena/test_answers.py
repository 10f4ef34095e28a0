"""The vote's input read and its answers built by hand (arena.serializers.vote_input_plain, battle_answer,
vote_answer) agree with the DRF serializers that document them."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from arena.models import Battle, Choice
from arena.serializers import (
    BattleOutputSerializer,
    VoteInputSerializer,
    VoteOutputSerializer,
    battle_answer,
    vote_answer,
    vote_input_plain,
)
from tests.factories import BattleFactory

pytestmark = pytest.mark.django_db


def rendered(data: Any) -> Any:
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def request_() -> Any:
    return APIRequestFactory().post("/api/battles/", HTTP_HOST="testserver")


def battles() -> list[Battle]:
    plain = BattleFactory(prompt__lyrics="")
    lyrics = BattleFactory(prompt__lyrics="La la la\n", suggestion_shown=True, suggestion_side="b",
                           suggestion_p=0.8123)
    lyrics.prompt.reference_audio.save("reference.wav", ContentFile(b"RIFF"), save=True)
    expired = BattleFactory(expires_at=timezone.now() - timedelta(seconds=1))
    voted = BattleFactory(status=Battle.Status.VOTED, min_listen_ms=1500)
    hidden = BattleFactory(suggestion_shown=False, suggestion_side="a", suggestion_p=0.6)
    return [plain, lyrics, expired, voted, hidden]


def test_a_battle_answers_as_its_serializer(request_: Any) -> None:
    for battle in battles():
        for axes in (None, ["musicality"], ["lyrics_alignment", "prompt_alignment"]):
            context = {"request": request_} if axes is None else {"request": request_, "axes": axes}
            expected = rendered(BattleOutputSerializer(battle, context=context).data)
            assert rendered(battle_answer(battle, request=request_, axes=axes)) == expected


def test_a_vote_answers_as_its_serializer(request_: Any) -> None:
    following = battles()[1]
    revealed = {
        "a": {"name": "Alpha", "slug": "alpha", "rating": 1012.5, "ci_low": 990.25, "ci_high": 1030.0},
        "b": {"name": "Beta", "slug": "beta", "rating": None, "ci_low": None, "ci_high": None},
    }
    answers: list[dict[str, Any]] = [
        {"choice": Choice.A, "systems": revealed},
        {"choice": Choice.TIE, "systems": None},
        {"choice": Choice.B, "systems": revealed, "next_battle": None},
        {"choice": Choice.BOTH_BAD, "systems": revealed, "next_battle": following},
        {"choice": Choice.A, "systems": None, "next_battle": following},
    ]
    for answer in answers:
        expected = rendered(VoteOutputSerializer(answer, context={"request": request_}).data)
        assert rendered(vote_answer(answer, request=request_)) == expected
        assert ("next_battle" in expected) == ("next_battle" in answer)


PLAY = {"type": "play", "side": "a", "position_ms": 0, "client_ms": 1000}
PAUSE = {"type": "pause", "side": "b", "position_ms": 5000, "client_ms": 2**53}


@pytest.mark.parametrize("body", [
    {"choice": "a"},
    {"choice": "both_bad", "musicality": "b", "prompt_alignment": "", "lyrics_alignment": "tie"},
    {"choice": "tie", "events": [PLAY, PAUSE], "next": True, "decision_ms": 0},
    {"choice": "b", "events": [], "next": False, "decision_ms": None},
    {"choice": "a", "decision_ms": 2**31 - 1, "events": [PLAY] * 500},
])
def test_the_pages_vote_is_read_as_its_serializer_reads_it(body: dict[str, Any]) -> None:
    incoming = VoteInputSerializer(data=body)
    assert incoming.is_valid(), incoming.errors
    assert vote_input_plain(body) == dict(incoming.validated_data)


@pytest.mark.parametrize("body", [
    [], "a", {}, {"choice": "c"}, {"choice": ["a"]}, {"choice": 1}, {"choice": "a", "musicality": "x"},
    {"choice": "a", "musicality": None}, {"choice": "a", "reason": "because"}, {"choice": "a", "client_hints": {}},
    {"choice": "a", "unknown": 1}, {"choice": "a", "next": "true"}, {"choice": "a", "next": 1},
    {"choice": "a", "decision_ms": -1}, {"choice": "a", "decision_ms": 2**31}, {"choice": "a", "decision_ms": True},
    {"choice": "a", "decision_ms": "12"}, {"choice": "a", "events": {}}, {"choice": "a", "events": [PLAY] * 501},
    {"choice": "a", "events": [{**PLAY, "side": "c"}]}, {"choice": "a", "events": [{**PLAY, "type": ["play"]}]},
    {"choice": "a", "events": [{**PLAY, "position_ms": 1.5}]}, {"choice": "a", "events": [{**PLAY, "extra": 1}]},
    {"choice": "a", "events": [{**PLAY, "client_ms": 2**53 + 1}]}, {"choice": "a", "events": [[]]},
])
def test_anything_else_is_left_to_the_serializer(body: Any) -> None:
    assert vote_input_plain(body) is None
