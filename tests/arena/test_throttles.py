"""Rate limits: per rater and per hashed client address, in the shared cache, answered 429 in JSON.

The windows are aligned to the clock's minute, so every test here runs on a frozen clock (arena.throttles reads
time through throttle_clock): on the wall clock a test that happened to straddle a minute would see its count
start again half-way.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from arena.throttles import rate_parse
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.factories import ClipFactory, PromptFactory

pytestmark = pytest.mark.django_db

# 20 s into a minute (and into an hour and a day: 20 000 days after the epoch).
TWENTY_SECONDS_IN = 20_000 * 86_400 + 20.0


@dataclass
class FrozenClock:
    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock(now=TWENTY_SECONDS_IN)
    monkeypatch.setattr("arena.throttles.throttle_clock", frozen)
    return frozen


@pytest.fixture(autouse=True)
def clips() -> None:
    for _ in range(3):
        prompt = PromptFactory()
        ClipFactory(prompt=prompt)
        ClipFactory(prompt=prompt)


def test_it_limits_each_rater(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_RATE_LIMIT_RATER = "3/min"
    client = APIClient()
    # The visit's first request has no rater yet (it creates one): only the address limit counts it.
    statuses = [client.post("/api/battles/").status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 201, 429]
    refused = client.post("/api/battles/")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert "throttled" in refused.json()["message"].lower()
    assert refused["Retry-After"] == "40"  # the rest of the minute
    assert APIClient().post("/api/battles/").status_code == 201  # another rater is not held back


def test_the_count_starts_again_when_the_clock_enters_the_next_minute(  # type: ignore[no-untyped-def]
    settings, clock: FrozenClock
) -> None:
    settings.EARSHOT_RATE_LIMIT_IP = "2/min"
    client = APIClient()
    clock.now = TWENTY_SECONDS_IN + 39.5  # half a second before the minute ends
    assert [client.get("/api/systems/").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/systems/")["Retry-After"] == "1"
    clock.now = TWENTY_SECONDS_IN + 40.0
    assert [client.get("/api/systems/").status_code for _ in range(3)] == [200, 200, 429]


def test_it_limits_a_signed_in_rater_across_sessions_and_tokens(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_RATE_LIMIT_RATER = "2/min"
    user = User.objects.create_user("lin")
    browser = APIClient()
    browser.force_login(user)
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert browser.post("/api/battles/").status_code == 201
    assert script.post("/api/battles/").status_code == 201
    assert script.post("/api/battles/").status_code == 429


def test_it_limits_each_client_address_whoever_the_rater(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_RATE_LIMIT_IP = "3/min"
    # Fresh anonymous clients from one address: each would be a new rater, so only the address limit holds them.
    statuses = [APIClient().post("/api/battles/", REMOTE_ADDR="203.0.113.9").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert APIClient().post("/api/battles/", REMOTE_ADDR="203.0.113.10").status_code == 201


def test_the_address_is_counted_only_as_a_salted_hash(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_RATE_LIMIT_IP = "5/min"
    APIClient().post("/api/battles/", REMOTE_ADDR="203.0.113.77")
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        keys = [key.decode() for key in backend._cache.get_client().keys("*")]
    else:
        keys = list(backend._cache.keys())  # type: ignore[attr-defined]
    assert any("throttle:ip:" in key for key in keys)
    assert not any("203.0.113.77" in key for key in keys)


def test_the_lists_are_limited_per_address(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_RATE_LIMIT_IP = "2/min"
    client = APIClient()
    assert [client.get("/api/systems/").status_code for _ in range(3)] == [200, 200, 429]


def test_off_means_no_limit(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_RATE_LIMIT_RATER = "off"
    settings.EARSHOT_RATE_LIMIT_IP = ""
    client = APIClient()
    assert {client.get("/api/systems/").status_code for _ in range(30)} == {200}


@pytest.mark.parametrize(
    ("rate", "parsed"), [("120/min", (120, 60)), ("5/s", (5, 1)), ("1000/hour", (1000, 3600)), ("off", None)]
)
def test_it_reads_rates(rate: str, parsed: tuple[int, int] | None) -> None:
    assert rate_parse(rate, setting="X") == parsed


@pytest.mark.parametrize("rate", ["120", "many/min", "10/fortnight", "0/min"])
def test_it_refuses_rates_it_cannot_read(rate: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="X="):
        rate_parse(rate, setting="X")
