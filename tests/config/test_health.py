"""/healthz. These tests carry no django_db mark, so pytest-django makes any database access in them an error."""
from __future__ import annotations

from django.test import Client


def test_healthz_answers_ok_without_touching_the_database() -> None:
    answer = Client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert "Set-Cookie" not in answer.headers  # no session is made for a probe


def test_healthz_refuses_writes() -> None:
    assert Client().post("/healthz").status_code == 405
