"""POST /api/clips/: admins upload one clip; refusals are JSON naming the reason and leave nothing behind."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from arena.models import Clip, Prompt
from tests.factories import PromptFactory, SystemFactory, write_tone

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> APIClient:
    admin = get_user_model().objects.create_user("owner", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(admin)
    return client


def stored(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()]


def upload(client: APIClient, path: Path, **fields: object):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return client.post("/api/clips/", {"audio": handle, **fields}, format="multipart")


def test_an_admin_uploads_a_clip_and_the_same_file_again_changes_nothing(
    admin_client: APIClient, tmp_path: Path, media_root: Path
) -> None:
    SystemFactory(slug="delta")
    path = write_tone(tmp_path / "take.flac", fmt="FLAC", seconds=2.0)
    first = upload(admin_client, path, system="delta", prompt="A lullaby for strings")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["system"] == "delta" and body["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert abs(body["delivery_lufs"] - -16.0) < 0.5
    again = upload(admin_client, path, system="delta", prompt_id=body["prompt_id"])
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Clip.objects.count() == 1 and len(stored(media_root)) == 2


def test_it_refuses_a_file_that_is_not_audio_with_the_reason_and_keeps_nothing(
    admin_client: APIClient, tmp_path: Path, media_root: Path
) -> None:
    SystemFactory(slug="delta")
    path = tmp_path / "notes.mp3"
    path.write_text("meeting notes, not music")
    response = upload(admin_client, path, system="delta", prompt="A new prompt that must not stay")
    assert response.status_code == 400
    assert response.json()["code"] == "clip_refused"
    assert response.json()["details"]["reason"] == "not_audio"
    assert "notes.mp3" in response.json()["message"]
    assert Clip.objects.count() == 0 and stored(media_root) == []
    assert not Prompt.objects.filter(text="A new prompt that must not stay").exists()


def test_it_refuses_an_oversize_upload_before_decoding_it(
    admin_client: APIClient, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_MAX_UPLOAD_BYTES = 5000
    SystemFactory(slug="delta")
    response = upload(admin_client, write_tone(tmp_path / "big.wav"), system="delta", prompt_id=PromptFactory().pk)
    assert response.status_code == 400 and response.json()["details"]["reason"] == "too_large"


def test_it_names_an_unknown_system_and_a_missing_prompt(admin_client: APIClient, tmp_path: Path) -> None:
    path = write_tone(tmp_path / "x.wav")
    unknown = upload(admin_client, path, system="nobody", prompt="Anything")
    assert unknown.status_code == 400 and "'nobody' is not registered" in unknown.json()["message"]
    SystemFactory(slug="delta")
    no_prompt = upload(admin_client, path, system="delta")
    assert no_prompt.status_code == 400 and "prompt_id or prompt" in no_prompt.json()["message"]


@pytest.mark.parametrize("staff", [False, None])
def test_only_staff_may_upload(tmp_path: Path, staff: bool | None) -> None:
    client = APIClient()
    if staff is not None:
        client.force_authenticate(get_user_model().objects.create_user("member"))
    SystemFactory(slug="delta")
    response = upload(client, write_tone(tmp_path / "x.wav"), system="delta", prompt="A waltz")
    assert response.status_code in {401, 403}
    assert Clip.objects.count() == 0
