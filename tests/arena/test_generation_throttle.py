"""The limit on battles asked of the generators (POST /api/generations/), per rater and per client address, on a
frozen clock: a 429 in the API's error shape with Retry-After, the other raters and addresses not held back."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from arena.models import GenerationRequest
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.arena.generator_support import eager_http_systems
from tests.arena.test_throttles import clock  # noqa: F401 - autouse fixture: a frozen throttle clock

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def generators() -> Iterator[None]:
    with eager_http_systems():
        yield


def ask(client: APIClient, text: str, address: str = "203.0.113.5") -> Any:
    return client.post("/api/generations/", {"prompt": f"{text}, 2 seconds"}, format="json", REMOTE_ADDR=address)


def test_it_limits_the_battles_one_rater_asks_for(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_GENERATION_RATE_RATER = "2/min"
    client = APIClient()
    # The visit's first request has no rater yet (it creates one): only the address counts it.
    statuses = [ask(client, f"a march number {n}").status_code for n in range(3)]
    assert all(code in (201, 202) for code in statuses)
    refused = ask(client, "one march too many")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert "many new pieces of music" in refused.json()["message"]
    assert refused["Retry-After"] == "40"  # the rest of the minute on the frozen clock
    assert GenerationRequest.objects.count() == 3  # the refused ask made nothing
    assert ask(APIClient(), "another listener's waltz").status_code in (201, 202)


def test_it_limits_the_battles_asked_from_one_address(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_GENERATION_RATE_IP = "2/hour"
    # Fresh anonymous visits from one address: each would be a new rater, so the address limit holds them.
    statuses = [ask(APIClient(), f"a jig number {n}", address="198.51.100.7").status_code for n in range(3)]
    assert all(code in (201, 202) for code in statuses[:2]) and statuses[2] == 429
    refused = ask(APIClient(), "a jig", address="198.51.100.7")
    assert refused.json()["code"] == "throttled" and "from your address" in refused.json()["message"]
    assert int(refused["Retry-After"]) == 3600 - 20  # the rest of the hour
    assert ask(APIClient(), "a jig", address="198.51.100.8").status_code in (201, 202)


def test_bank_takes_count_too_and_off_means_no_limit(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_GENERATION_RATE_RATER = "1/min"
    client = APIClient()
    ask(client, "a first reel")  # makes the rater
    assert ask(client, "a second reel").status_code in (201, 202)
    assert client.post("/api/generations/", {"bank": True}, format="json",
                       REMOTE_ADDR="203.0.113.5").status_code == 429
    settings.EARSHOT_GENERATION_RATE_RATER = "off"
    assert ask(client, "a third reel").status_code in (201, 202)
