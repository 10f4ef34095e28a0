"""`manage.py train_reward_model` and the train task on a tiny real catalogue with a tiny training budget."""
from __future__ import annotations

import itertools
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reward.models import RewardModelVersion
from reward.services import checkpoint_digest
from reward.tasks import train_reward_model_task
from tests.arena.arena_support import Catalogue, catalogue_import
from tests.factories import RaterFactory
from tests.reward.reward_support import vote_cast

pytestmark = pytest.mark.django_db
TINY = ["--pretrain-steps", "2", "--pretrain-pairs", "8", "--batch-pairs", "4", "--epochs", "2", "--batch-size", "4",
        "--threads", "1", "--no-progress"]


def audio_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    return folder


def votes_by_quality(catalogue: Catalogue) -> int:
    """Every pair of systems on every prompt, twice: the higher-numbered system wins overall, ties on musicality,
    both_bad on prompt alignment (left out of training)."""
    raters = [RaterFactory(), RaterFactory()]
    count = 0
    for p_index, _ in enumerate(catalogue.prompts):
        for low, high in itertools.combinations(range(len(catalogue.systems)), 2):
            for rater in raters:
                vote_cast(catalogue.clip(low, p_index), catalogue.clip(high, p_index), "b", rater=rater,
                          musicality="tie", prompt_alignment="both_bad")
                count += 1
    return count


def test_it_trains_both_stages_saves_a_checkpoint_registers_and_activates_a_version(tmp_path: Path) -> None:
    catalogue = catalogue_import(audio_folder(tmp_path), systems=3, prompts=3)
    votes_by_quality(catalogue)
    out = StringIO()
    call_command("train_reward_model", "--stage", "both", "--out", str(tmp_path / "ckpt"), "--activate", "--seed",
                 "0", *TINY, stdout=out)
    version = RewardModelVersion.objects.get()
    assert version.active and version.path == str(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "config.json").is_file() and (tmp_path / "ckpt" / "model.safetensors").is_file()
    assert version.sha256 == checkpoint_digest(path=tmp_path / "ckpt")
    metrics = version.metrics
    assert metrics["training"]["status"] == "done"
    assert metrics["pretrain"]["steps"] == 2
    # Prompt-grouped hold-out: one of the three prompts, every vote on it (3 pairs x 2 raters).
    assert metrics["finetune"]["holdout_votes"] == 6 and metrics["finetune"]["holdout_groups"] == 1
    assert metrics["held_out"]["overall"]["decisive_pairs"] == 6
    assert metrics["held_out"]["musicality"]["decisive_pairs"] == 0  # ties only: in the loss as 1/2, not decisive
    assert "prompt_alignment" not in metrics["held_out"]  # both_bad only: left out
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["version"] == version.name and config["training"]["stage"] == "both"
    assert config["architecture"]["hyperparameters"]["network"]["overall_composed"] is True
    assert f"version {version.name} saved to {tmp_path / 'ckpt'} and activated" in out.getvalue()
    assert "held-out votes (grouped by prompt)" in out.getvalue()


def test_it_refuses_to_fine_tune_without_votes_and_marks_the_version_failed(tmp_path: Path) -> None:
    catalogue_import(audio_folder(tmp_path), systems=2, prompts=1)
    with pytest.raises(CommandError, match="needs votes"):
        call_command("train_reward_model", "--stage", "finetune", "--out", str(tmp_path / "ckpt"), *TINY)
    version = RewardModelVersion.objects.get()
    assert version.metrics["training"]["status"] == "failed" and not version.active and version.sha256 == ""


def test_it_refuses_a_checkpoint_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not empty"):
        call_command("train_reward_model", "--out", str(tmp_path / "ckpt"), *TINY)


def test_the_train_task_records_its_progress_on_the_version(tmp_path: Path, settings: object) -> None:
    catalogue = catalogue_import(audio_folder(tmp_path), systems=3, prompts=2)
    votes_by_quality(catalogue)
    version_id = train_reward_model_task.apply(
        kwargs={"stage": "finetune", "seed": 1, "out_dir": str(tmp_path / "ckpt"),
                "budget": {"epochs": 2, "batch_size": 4, "threads": 1}}
    ).get()
    version = RewardModelVersion.objects.get(pk=version_id)
    training = version.metrics["training"]
    assert training["status"] == "done" and training["step"] == "finetune"
    assert training["done"] == training["total"] == 2
    assert "train_loss" in training["figures"]
    assert not version.active
