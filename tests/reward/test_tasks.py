"""Reward-model tasks in a real Celery worker on Redis against PostgreSQL: rescoring on activation, new clips."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arena.ingest import clip_import
from reward.models import AgreementReport, ClipScore, RewardModelVersion
from reward.services import version_activate
from tests.arena.arena_support import catalogue_import
from tests.factories import write_tone
from tests.reward.reward_support import version_make
from tests.waiting import wait_for

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.realstack, pytest.mark.usefixtures("real_stack")]


def _scored_clips(version: RewardModelVersion) -> int:
    return ClipScore.objects.filter(version=version).values("clip_id").distinct().count()


def test_activating_a_version_rescores_every_clip_in_a_worker_with_progress(
    tmp_path: Path, celery_worker: Any, settings: Any
) -> None:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=2)
    version = version_make(tmp_path / "ckpt")
    version_activate(version=version)
    wait_for("the worker to score every clip", lambda: _scored_clips(version) == len(catalogue.clips), timeout=120)
    version.refresh_from_db()
    wait_for("the rescore's progress to say done",
             lambda: RewardModelVersion.objects.get(pk=version.pk).metrics["rescore"].get("status") == "done")
    progress = RewardModelVersion.objects.get(pk=version.pk).metrics["rescore"]
    assert progress["done"] == progress["total"] == len(catalogue.clips)
    assert ClipScore.objects.filter(version=version).count() == 3 * len(catalogue.clips)
    # The activation also recomputes the agreement report (no votes yet: every figure says why it is empty).
    report = wait_for("the version's agreement report", lambda: AgreementReport.objects.filter(version=version).first())
    assert report.figures["vote_count"] == 0  # type: ignore[attr-defined]


def test_a_clip_imported_after_activation_is_scored_by_the_worker(tmp_path: Path, celery_worker: Any) -> None:
    catalogue = catalogue_import(tmp_path, systems=2, prompts=1)
    version = version_make(tmp_path / "ckpt")
    version_activate(version=version)
    wait_for("the worker to score both clips", lambda: _scored_clips(version) == 2, timeout=120)
    clip, created = clip_import(
        system=catalogue.systems[0], prompt=catalogue.prompts[0],
        path=write_tone(tmp_path / "late.wav", seconds=1.0, frequency=330.0, seed=77),
    )
    assert created
    wait_for("the worker to score the late clip",
             lambda: ClipScore.objects.filter(version=version, clip=clip).count() == 3, timeout=120)


def test_a_rescore_queued_for_a_version_deactivated_since_does_nothing(tmp_path: Path, celery_worker: Any) -> None:
    catalogue_import(tmp_path, systems=2, prompts=1)
    old = version_make(tmp_path / "old")
    new = version_make(tmp_path / "new", name="new", seed=1)
    version_activate(version=old)
    version_activate(version=new)
    wait_for("the new version to score both clips", lambda: _scored_clips(new) == 2, timeout=120)
    wait_for("the old version's queued rescore to end",
             lambda: RewardModelVersion.objects.get(pk=old.pk).metrics["rescore"].get("status") in {"skipped", "done"})
    assert RewardModelVersion.objects.get(active=True).pk == new.pk
