"""The generation API: submit a prompt (or take a bank one), poll until the battle is ready, refusals and errors
as JSON, another rater's request invisible. Eager Celery in a transactional test: the generations run right after
the submit's commit."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from arena.models import BlockedWord, GenerationRequest
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.arena.generator_support import GeneratorServer, eager_http_systems
from tests.factories import PromptFactory
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def generators() -> Iterator[GeneratorServer]:
    with eager_http_systems() as server:
        yield server


def submit(client: APIClient, body: dict[str, Any]) -> Any:
    return client.post("/api/generations/", body, format="json")


def test_a_prompt_is_accepted_and_its_battle_read_when_ready(generators: GeneratorServer) -> None:
    client = APIClient()
    answer = submit(client, {"prompt": "a calm piano piece, 3 seconds", "lyrics": ""})
    # Eager: the generations ran after the submit's commit, so the answer may already hold the battle or not.
    assert answer.status_code in (201, 202)
    body = assert_matches_schema(answer, method="post", path="/api/generations/")
    assert answer["Location"].endswith(f"/api/generations/{body['id']}/")
    polled = client.get(f"/api/generations/{body['id']}/")
    data = assert_matches_schema(polled)
    assert data["status"] == "ready" and data["progress"] == 1.0 and data["origin"] == "listener"
    assert data["prompt_detailed"]["duration"] == 3.0
    battle = data["battle"]
    assert battle["prompt"]["text"] == "a calm piano piece, 3 seconds"
    assert "sys-" not in str(data)  # nothing names a system before the vote
    assert client.get(battle["clips"]["a"]["audio_url"]).status_code == 200
    # Another listener cannot read it.
    assert APIClient().get(f"/api/generations/{body['id']}/").json()["code"] == "generation_not_found"


def test_a_refused_prompt_answers_400_with_the_reason(generators: GeneratorServer) -> None:
    BlockedWord.objects.create(word="badword")
    answer = submit(APIClient(), {"prompt": "a badword anthem"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "prompt_refused" and answer.json()["details"] == {"reason": "blocked_word"}
    assert GenerationRequest.objects.get().moderation == "refused"


def test_a_body_without_a_prompt_or_bank_is_invalid(generators: GeneratorServer) -> None:
    answer = submit(APIClient(), {"lyrics": "la"})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_input"


def test_no_generator_for_lyrics_answers_503(generators: GeneratorServer) -> None:
    answer = submit(APIClient(), {"prompt": "a ballad", "lyrics": "hold me"})
    assert answer.status_code == 503 and answer.json()["code"] == "no_generator_available"
    assert "music with lyrics" in answer.json()["message"]


def test_a_bank_prompt_can_be_taken(generators: GeneratorServer) -> None:
    prompt = PromptFactory(text="a bright march")
    answer = submit(APIClient(), {"bank": True, "prompt_id": prompt.pk})
    assert answer.status_code in (201, 202)
    assert GenerationRequest.objects.get().prompt == prompt
    assert submit(APIClient(), {"bank": True, "prompt_id": 10**9}).json()["code"] == "invalid_input"
