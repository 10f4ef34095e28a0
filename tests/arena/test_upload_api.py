"""POST /api/clips/: admins upload one clip, a worker imports it, GET /api/clips/uploads/<id>/ follows the job;
refusals name the reason and leave nothing behind; the web side never imports torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from arena.models import Clip, ClipUpload, Prompt, System
from arena.tasks import clip_upload_task
from tests.factories import PromptFactory, SystemFactory, write_tone
from tests.waiting import wait_for

pytest_plugins = ["tests.realstack"]
pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]  # pytest-django's django_capture_on_commit_callbacks


@pytest.fixture
def admin_client() -> APIClient:
    admin = get_user_model().objects.create_user("owner", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(admin)
    return client


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery as the embedded demo runs it: every task in the process that queues it."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def stored(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()]


def upload(client: APIClient, path: Path, **fields: object):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return client.post("/api/clips/", {"audio": handle, **fields}, format="multipart")


def upload_and_import(client: APIClient, capture: Capture, path: Path, **fields: object) -> dict[str, Any]:
    """Upload (queued after commit: exactly one task), run the task as the worker would, answer the job's status."""
    with capture(execute=False) as callbacks:
        response = upload(client, path, **fields)
    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["status"] == "queued" and response["Location"] == job["status_url"]
    assert len(callbacks) == 1
    with capture(execute=True):
        clip_upload_task(ClipUpload.objects.get(public_id=job["id"]).pk)
    answer = client.get(job["status_url"])
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def test_an_admin_uploads_a_clip_and_the_same_file_again_changes_nothing(
    admin_client: APIClient, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    SystemFactory(slug="delta")
    path = write_tone(tmp_path / "take.flac", fmt="FLAC", seconds=2.0)
    first = upload_and_import(admin_client, django_capture_on_commit_callbacks, path, system="delta",
                              prompt="A lullaby for strings")
    assert first["status"] == "done" and first["clip_created"] is True and first["reason"] == ""
    clip = first["clip"]
    assert clip["system"] == "delta" and clip["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert abs(clip["delivery_lufs"] - -16.0) < 0.5
    again = upload_and_import(admin_client, django_capture_on_commit_callbacks, path, system="delta",
                              prompt_id=clip["prompt_id"])
    assert again["status"] == "done" and again["clip_created"] is False and again["clip"]["id"] == clip["id"]
    assert Clip.objects.count() == 1 and len(stored(media_root)) == 2  # the staged uploads are gone


def test_it_refuses_a_file_that_is_not_audio_with_the_reason_and_keeps_nothing(
    admin_client: APIClient, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    SystemFactory(slug="delta")
    path = tmp_path / "notes.mp3"
    path.write_text("meeting notes, not music")
    job = upload_and_import(admin_client, django_capture_on_commit_callbacks, path, system="delta",
                            prompt="A new prompt that must not stay")
    assert job["status"] == "refused" and job["reason"] == "not_audio" and job["clip"] is None
    assert "notes.mp3" in job["message"]
    assert Clip.objects.count() == 0 and stored(media_root) == []
    assert not Prompt.objects.filter(text="A new prompt that must not stay").exists()


def _truncated(folder: Path) -> Path:
    whole = write_tone(folder / "whole.wav", seconds=3.0)
    cut = folder / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


def _silent(folder: Path) -> Path:
    path = folder / "silence.wav"
    sf.write(str(path), np.zeros((44100, 2), dtype=np.float32), 44100)
    return path


@pytest.mark.parametrize(("reason", "make"), [
    ("truncated", _truncated),
    ("silent", _silent),
    ("too_long", lambda folder: write_tone(folder / "long.wav", seconds=3.0)),
])
def test_the_job_names_why_the_worker_refused_the_audio(  # type: ignore[no-untyped-def]
    admin_client: APIClient, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Capture,
    settings, reason: str, make: Callable[[Path], Path],
) -> None:
    settings.EARSHOT_MAX_CLIP_SECONDS = 2.0
    SystemFactory(slug="delta")
    job = upload_and_import(admin_client, django_capture_on_commit_callbacks, make(tmp_path), system="delta",
                            prompt_id=PromptFactory().pk)
    assert job["status"] == "refused" and job["reason"] in ({reason} | ({"undecodable"} if reason == "truncated"
                                                                           else set()))
    assert Clip.objects.count() == 0 and stored(media_root) == []


def test_the_same_audio_for_another_system_is_refused_as_a_duplicate(
    admin_client: APIClient, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    SystemFactory(slug="delta")
    SystemFactory(slug="echo")
    path = write_tone(tmp_path / "a.wav")
    first = upload_and_import(admin_client, django_capture_on_commit_callbacks, path, system="delta", prompt="A jig")
    second = upload_and_import(admin_client, django_capture_on_commit_callbacks, path, system="echo", prompt="A jig")
    assert second["status"] == "refused" and second["reason"] == "duplicate"
    assert first["clip"]["id"] in second["message"]
    assert Clip.objects.count() == 1 and len(stored(media_root)) == 2


@pytest.mark.parametrize("reason", ["unknown_system", "unknown_prompt", "too_large"])
def test_the_worker_checks_the_form_again_for_what_changed_since(  # type: ignore[no-untyped-def]
    admin_client: APIClient, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Capture,
    settings, reason: str,
) -> None:
    system, prompt = SystemFactory(slug="delta", name="Delta"), PromptFactory()
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(admin_client, write_tone(tmp_path / "x.wav"), system="delta", prompt_id=prompt.pk)
    assert response.status_code == 202
    if reason == "unknown_system":
        System.objects.filter(pk=system.pk).update(slug="delta-2", name="Delta 2")
    elif reason == "unknown_prompt":
        prompt.delete()
    else:
        settings.EARSHOT_MAX_UPLOAD_BYTES = 5000
    with django_capture_on_commit_callbacks(execute=True):
        clip_upload_task(ClipUpload.objects.get().pk)
    job = admin_client.get(response.json()["status_url"]).json()
    assert job["status"] == "refused" and job["reason"] == reason
    assert Clip.objects.count() == 0 and stored(media_root) == []


def test_it_refuses_an_oversize_upload_before_queueing_it(  # type: ignore[no-untyped-def]
    admin_client: APIClient, tmp_path: Path, media_root: Path, settings, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.EARSHOT_MAX_UPLOAD_BYTES = 5000
    SystemFactory(slug="delta")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(admin_client, write_tone(tmp_path / "big.wav"), system="delta",
                          prompt_id=PromptFactory().pk)
    assert response.status_code == 400 and response.json()["details"]["reason"] == "too_large"
    assert callbacks == [] and not ClipUpload.objects.exists() and stored(media_root) == []


def test_it_names_an_unknown_system_a_missing_prompt_and_an_unknown_prompt_id(
    admin_client: APIClient, tmp_path: Path, media_root: Path
) -> None:
    path = write_tone(tmp_path / "x.wav")
    unknown = upload(admin_client, path, system="nobody", prompt="Anything")
    assert unknown.status_code == 400 and "'nobody' is not registered" in unknown.json()["message"]
    assert unknown.json()["details"]["reason"] == "unknown_system"
    SystemFactory(slug="delta")
    no_prompt = upload(admin_client, path, system="delta")
    assert no_prompt.status_code == 400 and "prompt_id or prompt" in no_prompt.json()["message"]
    no_such_prompt = upload(admin_client, path, system="delta", prompt_id=987654)
    assert no_such_prompt.status_code == 400 and no_such_prompt.json()["details"]["reason"] == "unknown_prompt"
    assert not ClipUpload.objects.exists() and stored(media_root) == []


def test_a_redelivered_import_changes_nothing_and_one_that_died_runs_again(
    admin_client: APIClient, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    SystemFactory(slug="delta")
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(admin_client, write_tone(tmp_path / "x.wav"), system="delta", prompt="A reel")
    pending = ClipUpload.objects.get()
    ClipUpload.objects.filter(pk=pending.pk).update(status=ClipUpload.Status.RUNNING)  # a worker died half-way
    with django_capture_on_commit_callbacks(execute=True):
        assert clip_upload_task(pending.pk) == "done"
    done = ClipUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert clip_upload_task(pending.pk) is None
    assert callbacks == [] and ClipUpload.objects.get().finished_at == done.finished_at
    assert Clip.objects.count() == 1 and len(stored(media_root)) == 2
    assert admin_client.get(response.json()["status_url"]).json()["status"] == "done"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_with_eager_celery_the_upload_completes_within_the_request(
    admin_client: APIClient, tmp_path: Path, media_root: Path
) -> None:
    SystemFactory(slug="delta")
    response = upload(admin_client, write_tone(tmp_path / "x.wav"), system="delta", prompt="A march")
    assert response.status_code == 200, response.json()
    job = response.json()
    assert job["status"] == "done" and job["clip"]["system"] == "delta" and job["finished_at"]
    assert Clip.objects.count() == 1 and len(stored(media_root)) == 2


@pytest.mark.usefixtures("real_stack")
def test_an_upload_completes_through_a_real_worker(
    celery_worker: object, tmp_path: Path, media_root: Path
) -> None:
    SystemFactory(slug="delta")
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("owner", is_staff=True))
    response = upload(client, write_tone(tmp_path / "x.wav"), system="delta", prompt="A polka")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    url = response.json()["status_url"]
    job = wait_for("the upload job to finish",
                   lambda: (body := client.get(url).json())["status"] not in {"queued", "running"} and body)
    assert job["status"] == "done", job  # type: ignore[index]
    assert Clip.objects.get().public_id == job["clip"]["id"]  # type: ignore[index]
    wait_for("the staged file's deletion after the commit", lambda: len(stored(media_root)) == 2)


def test_an_unknown_upload_is_not_found(admin_client: APIClient) -> None:
    response = admin_client.get("/api/clips/uploads/6f1c3f5e-0000-4000-8000-000000000000/")
    assert response.status_code == 404 and response.json()["code"] == "clip_upload_not_found"


@pytest.mark.parametrize("staff", [False, None])
def test_only_staff_may_upload_or_follow_an_upload(tmp_path: Path, staff: bool | None) -> None:
    client = APIClient()
    if staff is not None:
        client.force_authenticate(get_user_model().objects.create_user("member"))
    SystemFactory(slug="delta")
    response = upload(client, write_tone(tmp_path / "x.wav"), system="delta", prompt="A waltz")
    assert response.status_code in {401, 403}
    assert Clip.objects.count() == 0 and not ClipUpload.objects.exists()
    follow = client.get("/api/clips/uploads/6f1c3f5e-0000-4000-8000-000000000000/")
    assert follow.status_code in {401, 403}


WEB_SIDE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from config.wsgi import application
from config.asgi import application as asgi_application
from django.contrib import admin
from django.urls import URLResolver, get_resolver

def resolve_all(resolver):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            resolve_all(pattern)
        else:
            pattern.callback

resolve_all(get_resolver())
for model_admin in admin.site._registry.values():
    model_admin.urls
import arena.admin, scoring.admin, reward.admin, scoring.hooks, reward.hooks
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {"torch", "torchaudio"})))
"""


@pytest.mark.django_db(databases=[])
def test_the_web_side_never_imports_torch() -> None:
    """The WSGI and ASGI apps, every URL's view and every admin page load without torch (a web worker's memory and
    start-up); `lint-imports` checks the same statically."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", WEB_SIDE], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_uploads_are_listed_read_only_in_the_admin(
    admin_client: APIClient, tmp_path: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    from django.test import Client

    SystemFactory(slug="delta")
    job = upload_and_import(admin_client, django_capture_on_commit_callbacks, write_tone(tmp_path / "take-9.wav"),
                            system="delta", prompt="A hornpipe")
    browser = Client()
    browser.force_login(get_user_model().objects.get(username="owner"))
    listing = browser.get("/admin/arena/clipupload/")
    assert listing.status_code == 200 and "take-9.wav" in listing.content.decode()
    upload_page = browser.get(f"/admin/arena/clipupload/{ClipUpload.objects.get(public_id=job['id']).pk}/change/")
    assert upload_page.status_code == 200 and 'name="_save"' not in upload_page.content.decode()
    assert browser.get("/admin/arena/clipupload/add/").status_code == 403
