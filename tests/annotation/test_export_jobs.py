"""Exports as jobs: the API with a real Celery worker (queue, progress, download with Range), permissions, a
failure recorded with its reason, the rolling public release, and the admin's export form."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from annotation.export_jobs import export_job_run, export_queue, release_publish
from annotation.exports import ExportSpec
from annotation.models import DatasetExport
from arena.models import Choice, Vote
from tests.arena.arena_support import arena_isolated  # noqa: F401
from tests.factories import SystemFactory
from tests.openapi import assert_matches_schema
from tests.realstack import VoteWriter
from tests.waiting import wait_for

pytest_plugins = ["tests.realstack"]


@pytest.fixture
def votes(vote_writer: VoteWriter) -> list[Vote]:
    alpha, beta = SystemFactory(slug="alpha"), SystemFactory(slug="beta")
    made = vote_writer.cast([(alpha, beta, Choice.A)] * 7 + [(beta, alpha, Choice.A)] * 3)
    now = timezone.now()
    for days, vote in enumerate(made):
        Vote.objects.filter(pk=vote.pk).update(created_at=now - timedelta(days=days))
    return made


@pytest.fixture
def export_root(settings: Any, tmp_path: Path) -> Path:
    settings.EARSHOT_EXPORT_ROOT = tmp_path / "exports"
    return settings.EARSHOT_EXPORT_ROOT


@pytest.fixture
def admin_user_client(db: None) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.org", "x"))
    return client


@pytest.mark.realstack
def test_an_export_queued_through_the_api_runs_in_a_worker_and_downloads_with_range(
    celery_worker: object, votes: list[Vote], export_root: Path, admin_user_client: Client
) -> None:
    answer = admin_user_client.post("/api/exports/", {"formats": ["parquet", "jsonl"], "bundle": True},
                                    content_type="application/json")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["status"] in ("queued", "running", "done")
    done = wait_for("the export to finish",
                    lambda: (admin_user_client.get(body["status_url"]).json()
                             if admin_user_client.get(body["status_url"]).json()["status"] in ("done", "failed")
                             else None))
    assert done["status"] == "done", done["reason"]
    assert_matches_schema(answer, method="post", path="/api/exports/", closed=True)
    assert_matches_schema(admin_user_client.get(body["status_url"]), closed=True)
    assert done["progress"] == 1.0 and done["rows_done"] == done["rows_total"] == 10 and done["rows_written"] == 10
    names = {file["name"]: file["url"] for file in done["files"]}
    assert {"data/preferences.parquet", "data/preferences.jsonl", "README.md", "MANIFEST.sha256",
            "board.json"} <= set(names)
    assert any(name.endswith(".tar") for name in names)
    whole = admin_user_client.get(names["data/preferences.jsonl"])
    content = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and len(content.splitlines()) == 10
    part = admin_user_client.get(names["data/preferences.jsonl"], HTTP_RANGE="bytes=10-29")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-29/{len(content)}"
    assert b"".join(part.streaming_content) == content[10:30]
    refused = admin_user_client.get(names["data/preferences.jsonl"], HTTP_RANGE=f"bytes={len(content) + 5}-")
    assert refused.status_code == 416 and refused.json()["code"] == "range_not_satisfiable"
    assert admin_user_client.get(done["status_url"] + "files/../../etc/passwd").status_code == 404
    table = pq.read_table(export_root / done["id"] / "data/preferences.parquet")
    assert table.num_rows == 10


@pytest.mark.django_db
def test_only_admins_create_read_and_download_exports(votes: list[Vote], staff_client: Client,
                                                      export_root: Path, admin_user_client: Client) -> None:
    export = DatasetExport.objects.create(spec={})
    for client in (Client(), staff_client):
        assert client.post("/api/exports/", {}, content_type="application/json").status_code in (401, 403)
        assert client.get("/api/exports/").status_code in (401, 403)
        assert client.get(f"/api/exports/{export.public_id}/").status_code in (401, 403)
    bad = admin_user_client.post("/api/exports/", {"sources": ["campaign:nope"]}, content_type="application/json")
    assert bad.status_code == 404 and bad.json()["code"] == "unknown_scope"
    bad = admin_user_client.post("/api/exports/", {"formats": ["xlsx"]}, content_type="application/json")
    assert bad.status_code == 400
    assert not DatasetExport.objects.exclude(pk=export.pk).exists()


@pytest.mark.django_db
def test_a_failed_export_says_why_and_leaves_no_folder(votes: list[Vote], settings: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the exports' folder should be")
    settings.EARSHOT_EXPORT_ROOT = blocker / "exports"
    export = DatasetExport.objects.create(spec=json.loads(json.dumps(_spec_json())))
    finished = export_job_run(public_id=export.public_id)
    assert finished.status == DatasetExport.Status.FAILED and finished.reason
    assert finished.files == [] and sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]
    # A redelivered message does not run it again.
    assert export_job_run(public_id=export.public_id).status == DatasetExport.Status.FAILED


def _spec_json() -> dict[str, Any]:
    from annotation.export_jobs import spec_to_json

    return spec_to_json(ExportSpec(formats=("parquet",)))


@pytest.mark.django_db
def test_the_rolling_release_publishes_votes_past_the_embargo_once_per_day(votes: list[Vote], settings: Any,
                                                                           tmp_path: Path) -> None:
    settings.EARSHOT_RELEASE_ROOT = str(tmp_path / "releases")
    settings.EARSHOT_RELEASE_EMBARGO_DAYS = 4.5
    now = timezone.now()
    release = release_publish(now=now)
    assert release is not None and release.status == DatasetExport.Status.DONE, release and release.reason
    folder = tmp_path / "releases" / f"earshot-{now:%Y-%m-%d}"
    table = pq.read_table(folder / "data/preferences.parquet")
    assert table.num_rows == 5  # the votes 5 to 9 days old
    assert max(table["created_at"].to_pylist()) < now - timedelta(days=4.5)
    assert release_publish(now=now) is None
    settings.EARSHOT_RELEASE_ROOT = ""
    assert release_publish(now=now + timedelta(days=1)) is None


@pytest.mark.django_db
def test_the_admin_form_queues_an_export(votes: list[Vote], admin_user_client: Client, export_root: Path) -> None:
    page = admin_user_client.get("/admin/annotation/datasetexport/add/")
    assert page.status_code == 200 and b"Queue the export" in page.content
    answer = admin_user_client.post("/admin/annotation/datasetexport/add/", {
        "sources": ["arena"], "shape": "votes", "formats": ["csv"], "axes": ["musicality"], "min_votes": "1",
        "license": "cc-by-4.0"})
    assert answer.status_code == 302
    export = DatasetExport.objects.get()
    assert export.spec["formats"] == ["csv"] and export.created_by is not None
    listing = admin_user_client.get("/admin/annotation/datasetexport/")
    assert listing.status_code == 200 and b"<progress" in listing.content
    queued = export_queue(spec=ExportSpec(formats=("jsonl",)))
    assert queued.status == DatasetExport.Status.QUEUED
