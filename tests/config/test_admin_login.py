"""The admin sign-in is limited per user name and address: failed attempts past the limit answer 429."""
from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from core import client_limits

pytestmark = pytest.mark.django_db
PASSWORD = "the-right-password-7"  # noqa: S105 - a test account's


@pytest.fixture(autouse=True)
def admin_user(settings: Any, monkeypatch: pytest.MonkeyPatch) -> User:
    cache.clear()
    monkeypatch.setattr(client_limits, "clock", lambda: 1_800_001_800.0)  # 30 min into an hour window
    settings.EARSHOT_LOGIN_RATE_LIMIT = "5/hour"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast: only the count matters
    return User.objects.create_superuser("ada", "ada@example.org", PASSWORD)


def sign_in(client: Client, password: str, *, username: str = "ada", address: str = "198.51.100.7") -> int:
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password},
                           REMOTE_ADDR=address)
    return response.status_code


def test_without_the_limit_forty_wrong_passwords_all_answer_the_form(settings: Any) -> None:
    settings.EARSHOT_LOGIN_RATE_LIMIT = "off"
    assert {sign_in(Client(), f"guess-{n}") for n in range(40)} == {200}


def test_past_the_limit_wrong_passwords_answer_429_and_so_does_the_right_one() -> None:
    client = Client()
    assert [sign_in(client, f"guess-{n}") for n in range(5)] == [200] * 5
    refused = client.post("/admin/login/", {"username": "ada", "password": "guess-5"}, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1800" and "try again in 30 minute(s)" in refused.content.decode()
    assert sign_in(client, PASSWORD) == 429  # no more guesses in this window, however good
    assert "_auth_user_id" not in client.session


def test_the_limit_is_per_user_name_and_address() -> None:
    for n in range(5):
        sign_in(Client(), f"guess-{n}")
    assert sign_in(Client(), f"guess-{n}") == 429
    assert sign_in(Client(), PASSWORD, address="203.0.113.50") == 302  # another address
    assert sign_in(Client(), "wrong", username="grace") == 200  # another user name


def test_a_successful_sign_in_within_the_limit_is_not_counted_and_the_page_still_renders() -> None:
    client = Client()
    assert client.get("/admin/login/").status_code == 200
    assert [sign_in(client, "wrong") for _ in range(4)] == [200] * 4
    assert sign_in(client, PASSWORD) == 302
    assert client.get("/admin/").status_code == 200


def test_the_next_window_accepts_sign_ins_again(monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        sign_in(Client(), f"guess-{n}")
    assert sign_in(Client(), PASSWORD) == 429
    monkeypatch.setattr(client_limits, "clock", lambda: 1_800_003_600.0)
    assert sign_in(Client(), PASSWORD) == 302
