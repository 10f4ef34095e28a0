"""Reward-model services and selectors on real clips and a real (tiny) checkpoint: versions, scoring, rankings."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from arena.ingest import clip_import
from arena.selectors import suggestion_public
from core.errors import Conflict
from reward.errors import CheckpointMissing, VersionNotReady
from reward.inference import clips_score, version_rescore
from reward.models import ClipScore, RewardModelVersion
from reward.selectors import (
    battle_suggestion,
    clip_scores,
    prompt_ranking,
    suggestion_for_new_battle,
)
from reward.services import (
    checkpoint_digest,
    reward_model_ensure_default,
    version_activate,
    version_register,
)
from tests.arena.arena_support import catalogue_import
from tests.factories import PromptFactory, SystemFactory, write_tone
from tests.reward.reward_support import BUNDLED_CLASS, tiny_checkpoint_write, version_make

pytestmark = pytest.mark.django_db


def test_it_registers_a_checkpoint_with_the_hash_of_its_files(tmp_path: Path) -> None:
    folder = tiny_checkpoint_write(tmp_path / "ckpt")
    version = version_register(name="v1", class_path=BUNDLED_CLASS, path=folder)
    assert version.sha256 == checkpoint_digest(path=folder)
    assert len(version.sha256) == 64
    assert not version.active


def test_it_refuses_a_missing_checkpoint_and_a_taken_name(tmp_path: Path) -> None:
    with pytest.raises(CheckpointMissing):
        version_register(name="nowhere", class_path=BUNDLED_CLASS, path=tmp_path / "nothing")
    version_make(tmp_path / "a", name="taken")
    with pytest.raises(Conflict):
        version_register(name="taken", class_path=BUNDLED_CLASS, path=tmp_path / "a")


def test_activating_a_version_deactivates_the_other_and_queues_rescore_and_agreement_on_commit(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    first = version_make(tmp_path / "a", name="first", active=True)
    second = version_make(tmp_path / "b", name="second", seed=1)
    with django_capture_on_commit_callbacks() as callbacks:
        version_activate(version=second)
    assert len(callbacks) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.active, second.active) == (False, True)
    assert second.metrics["rescore"]["status"] == "queued"
    assert RewardModelVersion.objects.filter(active=True).count() == 1


def test_activating_the_active_version_again_queues_nothing(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    version = version_make(tmp_path / "a", active=True)
    with django_capture_on_commit_callbacks() as callbacks:
        version_activate(version=version)
    assert callbacks == []


def test_it_refuses_to_activate_a_version_still_training(tmp_path: Path) -> None:
    version = version_make(tmp_path / "a")
    version.metrics = {"training": {"status": "running"}}
    version.save(update_fields=["metrics"])
    with pytest.raises(VersionNotReady):
        version_activate(version=version)


def test_ensure_default_registers_the_bundled_checkpoint_once_and_activates_it(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EARSHOT_REWARD_MODEL_PATH = str(tiny_checkpoint_write(tmp_path / "bundled"))
    settings.EARSHOT_REWARD_MODEL_CLASS = BUNDLED_CLASS
    with django_capture_on_commit_callbacks():
        first = reward_model_ensure_default()
        again = reward_model_ensure_default()
    assert first is not None and again is not None
    assert first.pk == again.pk and again.active
    assert first.name.startswith("bundled-")
    assert RewardModelVersion.objects.count() == 1


def test_ensure_default_does_nothing_without_a_checkpoint(tmp_path: Path, settings: Any) -> None:
    settings.EARSHOT_REWARD_MODEL_PATH = str(tmp_path / "empty")
    assert reward_model_ensure_default() is None
    assert not RewardModelVersion.objects.exists()


def test_it_scores_real_clips_on_every_axis_and_replaces_old_scores(tmp_path: Path) -> None:
    catalogue = catalogue_import(tmp_path, systems=2, prompts=1)
    version = version_make(tmp_path / "ckpt", active=True)
    ids = [clip.pk for clip in catalogue.clips]
    assert clips_score(version=version, clip_ids=ids) == 2
    scores = clip_scores(clip_ids=ids)
    assert set(scores) == set(ids)
    assert all(set(axes) == {"overall", "musicality", "prompt_alignment"} for axes in scores.values())
    assert all(math.isfinite(value) for axes in scores.values() for value in axes.values())
    ClipScore.objects.filter(version=version).update(score=99.0)
    clips_score(version=version, clip_ids=ids)
    assert ClipScore.objects.filter(version=version).count() == 6
    assert not ClipScore.objects.filter(score=99.0).exists()


def test_it_skips_a_clip_whose_file_is_unreadable_and_scores_the_rest(tmp_path: Path, media_root: Path) -> None:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=1)
    version = version_make(tmp_path / "ckpt", active=True)
    broken = catalogue.clips[1]
    (media_root / broken.original.name).write_bytes(b"not audio at all")
    assert clips_score(version=version, clip_ids=[clip.pk for clip in catalogue.clips]) == 2
    assert not ClipScore.objects.filter(clip=broken).exists()


def test_rescore_scores_only_what_is_missing_and_records_progress(tmp_path: Path) -> None:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=1)
    version = version_make(tmp_path / "ckpt", active=True)
    clips_score(version=version, clip_ids=[catalogue.clips[0].pk])
    seen: list[tuple[int, int]] = []
    done = version_rescore(version=version, batch_size=1, progress=lambda d, t: seen.append((d, t)))
    assert done == 2
    assert seen == [(1, 2), (2, 2)]
    version.refresh_from_db()
    assert version.metrics["rescore"]["status"] == "done"
    assert version.metrics["rescore"]["done"] == 2 and version.metrics["rescore"]["total"] == 2
    assert version_rescore(version=version) == 0


def test_a_new_clip_queues_its_scoring_once_on_commit(tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    system, prompt = SystemFactory(), PromptFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        clip_import(system=system, prompt=prompt, path=write_tone(tmp_path / "x.wav", seconds=1.0))
    assert len(callbacks) == 1


def test_prompt_ranking_orders_clips_by_score_and_gives_pairwise_probabilities(tmp_path: Path) -> None:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=1)
    version = version_make(tmp_path / "ckpt", active=True)
    for score, clip in zip([0.5, 2.0, -1.0], catalogue.clips, strict=True):
        ClipScore.objects.create(version=version, clip=clip, axis="overall", score=score)
    ranking = prompt_ranking(prompt_id=catalogue.prompts[0].pk)
    assert [entry.clip_id for entry in ranking.clips] == [catalogue.clips[i].pk for i in (1, 0, 2)]
    assert ranking.clips[0].p_beats_next == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert ranking.clips[-1].p_beats_next is None
    assert ranking.unscored_clips == 0


def test_battle_suggestion_names_a_side_and_its_probability_from_stored_scores(tmp_path: Path) -> None:
    catalogue = catalogue_import(tmp_path, systems=2, prompts=1)
    version = version_make(tmp_path / "ckpt", active=True)
    first, second = catalogue.clips
    assert battle_suggestion(clip_a=first, clip_b=second) is None
    ClipScore.objects.create(version=version, clip=first, axis="overall", score=0.0)
    ClipScore.objects.create(version=version, clip=second, axis="overall", score=math.log(4))
    side, p = battle_suggestion(clip_a=first, clip_b=second)  # type: ignore[misc]
    assert side == "b" and p == pytest.approx(0.8)
    assert battle_suggestion(clip_a=second, clip_b=first) == ("a", pytest.approx(0.8))


def test_the_suggestion_is_recorded_whenever_a_share_is_shown_and_shown_at_that_share(
    tmp_path: Path, settings: Any
) -> None:
    catalogue = catalogue_import(tmp_path, systems=2, prompts=1)
    version = version_make(tmp_path / "ckpt", active=True)
    first, second = catalogue.clips
    ClipScore.objects.create(version=version, clip=first, axis="overall", score=1.0)
    ClipScore.objects.create(version=version, clip=second, axis="overall", score=0.0)
    settings.EARSHOT_SUGGESTION_SHARE = 1e-9  # practically never shown, yet recorded: the anchoring control group
    hidden = suggestion_for_new_battle(clip_a=first, clip_b=second)
    assert hidden["suggestion_shown"] is False and hidden["suggestion_side"] == "a"
    settings.EARSHOT_SUGGESTION_SHARE = 0.0  # no share: nothing to compare, so nothing looked up or recorded
    assert suggestion_for_new_battle(clip_a=first, clip_b=second)["suggestion_side"] == ""
    settings.EARSHOT_SUGGESTION_SHARE = 1.0
    shown = suggestion_for_new_battle(clip_a=first, clip_b=second)
    assert shown["suggestion_shown"] is True and shown["suggestion_p"] == pytest.approx(1 / (1 + math.exp(-1)))
    settings.EARSHOT_SUGGESTION_SHARE = 0.5
    draws = [suggestion_for_new_battle(clip_a=first, clip_b=second)["suggestion_shown"] for _ in range(400)]
    assert 140 < sum(draws) < 260
    text = suggestion_public(shown=True, side="a", p=shown["suggestion_p"])
    assert text == {"side": "a", "p": 0.73, "text": "The model expects A (p = 0.73)"}
    assert first.system.name not in text["text"] and second.system.name not in text["text"]
