"""The reward model's REST API: versions and activation, a prompt's ranking (staff only), the agreement report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from reward.models import AgreementReport, ClipScore, RewardModelVersion
from tests.factories import ClipFactory, PromptFactory
from tests.openapi import assert_matches_schema
from tests.reward.reward_support import version_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client) -> Client:
    user = get_user_model().objects.create_user("researcher", password="x", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def member() -> Client:
    other = Client()
    other.force_login(get_user_model().objects.create_user("listener", password="x"))
    return other


def test_the_ranking_api_lists_a_prompts_clips_best_first_for_staff(staff: Client, tmp_path: Path) -> None:
    version = version_make(tmp_path / "ckpt", active=True)
    prompt = PromptFactory()
    clips = [ClipFactory(prompt=prompt) for _ in range(3)]
    for clip, score in zip(clips, [0.1, 0.9, -0.4], strict=True):
        ClipScore.objects.create(version=version, clip=clip, axis="overall", score=score)
        ClipScore.objects.create(version=version, clip=clip, axis="musicality", score=-score)
    body = assert_matches_schema(staff.get(f"/api/prompts/{prompt.pk}/ranking/"), closed=True)
    assert [row["clip_public_id"] for row in body["clips"]] == [clips[i].public_id for i in (1, 0, 2)]
    assert [row["rank"] for row in body["clips"]] == [1, 2, 3]
    assert body["version_name"] == version.name and body["axis"] == "overall"
    by_musicality = staff.get(f"/api/prompts/{prompt.pk}/ranking/?axis=musicality").json()
    assert [row["clip_public_id"] for row in by_musicality["clips"]] == [clips[i].public_id for i in (2, 0, 1)]


def test_the_ranking_api_refuses_anonymous_and_non_staff_callers(client: Client, member: Client) -> None:
    prompt = PromptFactory()
    refused = client.get(f"/api/prompts/{prompt.pk}/ranking/")
    assert refused.status_code == 403
    assert_matches_schema(refused, closed=True)
    assert member.get(f"/api/prompts/{prompt.pk}/ranking/").status_code == 403


def test_the_ranking_api_answers_typed_errors(staff: Client, tmp_path: Path) -> None:
    prompt = PromptFactory()
    response = staff.get(f"/api/prompts/{prompt.pk}/ranking/")
    assert response.status_code == 404 and assert_matches_schema(response)["code"] == "no_active_reward_model"
    version_make(tmp_path / "ckpt", active=True)
    response = staff.get("/api/prompts/999999/ranking/")
    assert response.status_code == 404 and response.json()["code"] == "prompt_not_found"
    response = staff.get(f"/api/prompts/{prompt.pk}/ranking/?axis=loudness")
    assert response.status_code == 400 and assert_matches_schema(response)["code"] == "invalid_input"


def test_the_versions_api_shows_progress_and_staff_can_activate(
    staff: Client, client: Client, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    old = version_make(tmp_path / "a", name="old", active=True)
    new = version_make(tmp_path / "b", name="new", seed=1)
    listed = assert_matches_schema(client.get("/api/reward-models/"), closed=True)
    assert {row["name"] for row in listed} == {"old", "new"}
    assert "path" not in listed[0]
    assert Client().post(f"/api/reward-models/{new.pk}/activate/").status_code == 403
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff.post(f"/api/reward-models/{new.pk}/activate/")
    assert response.status_code == 200 and assert_matches_schema(response, closed=True)["active"] is True
    assert response.json()["rescore"]["status"] == "queued"
    assert len(callbacks) == 2
    assert RewardModelVersion.objects.get(active=True) == new
    old.refresh_from_db()
    assert not old.active
    missing = staff.post("/api/reward-models/999999/activate/")
    assert missing.status_code == 404 and assert_matches_schema(missing)["code"] == "reward_model_not_found"


def test_the_agreement_api_is_404_until_a_report_exists_then_serves_it(client: Client, tmp_path: Path) -> None:
    response = client.get("/api/agreement/")
    assert response.status_code == 404 and assert_matches_schema(response)["code"] == "no_agreement_report"
    version = version_make(tmp_path / "ckpt", active=True)
    AgreementReport.objects.create(version=version, figures={"vote_count": 0, "axes": {}}, vote_count=0)
    body = assert_matches_schema(client.get("/api/agreement/"), closed=True)
    assert body["version"] == version.name and body["figures"] == {"vote_count": 0, "axes": {}}
