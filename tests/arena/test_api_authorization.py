"""Authorization headers and the session: only `Authorization: Token …` skips the CSRF check, and a token request
never acts as the rater of the session cookie it may also carry."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotAuthenticated
from rest_framework.test import APIClient

from arena import api, raters
from arena.models import Battle, Rater
from arena.raters import SESSION_KEY, rater_for_request
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tmp_path: Path):  # type: ignore[no-untyped-def]
    return catalogue_import(tmp_path, systems=3, prompts=1, seconds=1.0)


def browser_with_a_battle() -> tuple[APIClient, str, Rater]:
    """An anonymous browser (CSRF enforced, as in a real one) holding one battle of its session's rater."""
    browser = APIClient(enforce_csrf_checks=True)
    browser.get("/")
    created = browser.post("/api/battles/", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert created.status_code == 201
    battle = Battle.objects.get(public_id=created.json()["id"])
    return browser, created.json()["id"], battle.rater


def test_without_the_guard_any_authorization_header_acts_as_the_session_rater_without_csrf(  # type: ignore[no-untyped-def]
    catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old rule: any Authorization header skipped the CSRF check, and the rater still came from the session.
    monkeypatch.setattr(api, "token_scheme", lambda request: bool(request.META.get("HTTP_AUTHORIZATION")))
    monkeypatch.setattr(raters, "token_scheme", lambda request: False)
    browser, _, rater = browser_with_a_battle()
    forged = browser.post("/api/battles/", HTTP_AUTHORIZATION="Bearer anything")
    assert forged.status_code == 201
    assert Battle.objects.get(public_id=forged.json()["id"]).rater == rater


@pytest.mark.parametrize("header", ["Bearer anything", "Basic dXNlcjpwYXNz", "Tokens abc", "token"])
def test_an_authorization_header_of_another_scheme_keeps_the_csrf_check(catalogue, header: str) -> None:  # type: ignore[no-untyped-def]
    browser, _, rater = browser_with_a_battle()
    if header == "token":  # the Token scheme without a key: token authentication refuses it outright
        refused = browser.post("/api/battles/", HTTP_AUTHORIZATION=header)
        assert refused.status_code in (401, 403) and refused.json()["code"] == "authentication_failed"
    else:
        refused = browser.post("/api/battles/", HTTP_AUTHORIZATION=header)
        assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
    assert Battle.objects.filter(rater=rater).count() == 1


def test_a_browser_behind_http_basic_auth_still_votes_as_its_session_with_the_csrf_token(catalogue) -> None:  # type: ignore[no-untyped-def]
    browser, _, rater = browser_with_a_battle()
    created = browser.post("/api/battles/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz",
                           HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert created.status_code == 201
    assert Battle.objects.get(public_id=created.json()["id"]).rater == rater


def test_a_token_request_never_acts_as_the_session_rater(catalogue) -> None:  # type: ignore[no-untyped-def]
    browser, battle_id, session_rater = browser_with_a_battle()
    token = Token.objects.create(user=User.objects.create_user("script"))
    browser.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")  # same cookies, now with a token
    assert browser.get(f"/api/battles/{battle_id}/").status_code == 404
    assert browser.post(f"/api/battles/{battle_id}/vote/", {"choice": "a"}, format="json").status_code == 404
    created = browser.post("/api/battles/")
    assert created.status_code == 201
    assert Battle.objects.get(public_id=created.json()["id"]).rater.user.username == "script"
    assert Battle.objects.filter(rater=session_rater).count() == 1


def test_rater_for_request_reads_no_session_for_a_token_request() -> None:
    session = SessionStore()
    session[SESSION_KEY] = Rater.objects.create().pk
    request = RequestFactory().post("/api/battles/", HTTP_AUTHORIZATION="Token not-checked-here")
    request.session = session
    request.user = AnonymousUser()
    assert rater_for_request(request, create=False) is None
    with pytest.raises(NotAuthenticated):
        rater_for_request(request)
    assert raters.rater_key_for_request(request) is None
    del request.META["HTTP_AUTHORIZATION"]
    assert rater_for_request(request, create=False) == Rater.objects.get()
