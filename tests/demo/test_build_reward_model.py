"""`manage.py build_reward_model` with a tiny budget: both stages and the demo run, and the checkpoint it writes loads,
names its recipe and records the held-out figures and the real-recording damage table; a database with votes is
refused, and so is a checkpoint that misses its real-recording targets (a tiny budget always does)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command

from arena.models import Vote
from reward.ml.checkpoint import checkpoint_load
from tests.factories import BattleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
TINY = ["--pieces", "4", "--validation-pieces", "2", "--piece-seconds", "3", "--pairs", "16", "--steps", "2",
        "--demo-prompts", "3", "--demo-seconds", "2", "--demo-votes", "60", "--epochs", "1", "--threads", "1",
        "--real-per-track", "1", "--real-test-per-track", "1", "--floor-per-track", "1", "--no-progress"]


@pytest.fixture(autouse=True)
def _threads_restored() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_it_builds_a_checkpoint_from_both_stages_and_the_demo(tmp_path: Path) -> None:
    out = StringIO()
    call_command("build_reward_model", "--out", str(tmp_path / "weights"), "--seed", "1", *TINY,
                 "--allow-missed-targets", stdout=out, stderr=StringIO())
    assert Vote.objects.count() == 60
    network, info = checkpoint_load(path=tmp_path / "weights")
    config = json.loads((tmp_path / "weights" / "config.json").read_text())
    assert config["version"] == "bundled-demo-v4" and config["training"]["command"] == "make reward-model"
    assert config["training"]["stage1"]["pieces"] == 4 and config["training"]["stage1"]["validation_pieces"] == 2
    assert config["training"]["stage1"]["settings"]["steps"] == 2
    assert config["training"]["stage2"]["votes"]["votes"] == 60
    assert set(config["metrics"]["held_out_accuracy"]) <= set(network.axes)
    assert set(config["training"]["seconds"]) == {"stage1", "seed_demo", "real_test_stage1", "stage2",
                                                   "quality_floor", "real_test", "total"}
    # Overall is composed of the other axes; the floor raised the penalty on the real training tracks (12 excerpts,
    # 9 damaged copies each) and the blend was fitted again; every demo vote is counted as the agreement page does.
    assert network.config.overall_composed and "overall" not in network.heads
    finetune = config["metrics"]["finetune"]
    assert finetune["quality_floor"]["pairs"] == 9 * finetune["quality_floor"]["excerpts"]
    assert set(finetune["quality_floor"]["axes"]) == {"musicality"}
    assert finetune["overall_blend"]["after"] == [round(value, 6) for value in network.overall_blend_factors()]
    assert set(config["metrics"]["all_votes"]) == set(network.axes)
    real = config["metrics"]["real_recordings"]
    assert {row["family"] for row in real["families"]} == {"low-pass", "mp3", "noise", "clipping", "pitch wobble",
                                                           "dropout"}
    assert real["excerpts"] >= 10 and all(row["pairs"] == real["excerpts"] for row in real["rows"])
    assert "singularity-music" not in json.dumps(real) and real["targets_missed"]
    assert set(real["stage1"]) == {"rows", "implementations", "families", "targets_missed"}
    assert config["training"]["stage2"]["settings"]["rehearsal_pairs"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["weights"]  # the staging folder is gone
    text = out.getvalue()
    assert "demo (seed 1): clips imported 18, skipped 0; 60 votes" in text
    assert f"sha256 {info.sha256}" in text
    assert "real recordings after stage 2:" in text and "FFT brick-wall" in text
    assert "every demo vote (as the agreement page counts them):" in text


def test_it_refuses_a_checkpoint_that_misses_its_real_recording_targets_and_names_the_damage(tmp_path: Path) -> None:
    out = tmp_path / "weights"
    out.mkdir()
    (out / "config.json").write_text("{}")  # what was there before stays
    failing = r"real-recording targets after stage 2, .*: (low-pass|mp3|noise|clipping|pitch wobble)"
    with pytest.raises(CommandError, match=failing) as refused:
        call_command("build_reward_model", "--out", str(out), "--seed", "1", *TINY, stdout=StringIO(),
                     stderr=StringIO())
    assert (out / "config.json").read_text() == "{}" and sorted(p.name for p in out.iterdir()) == ["config.json"]
    kept = json.loads((tmp_path / "weights.refused" / "config.json").read_text())
    assert kept["metrics"]["real_recordings"]["targets_missed"]
    assert str(tmp_path / "weights.refused") in str(refused.value)


def test_it_refuses_a_database_with_votes(tmp_path: Path) -> None:
    battle = BattleFactory()
    Vote.objects.create(battle=battle, rater=battle.rater, system_a=battle.clip_a.system,
                        system_b=battle.clip_b.system, prompt=battle.prompt, choice="a")
    with pytest.raises(CommandError, match="empty scratch database"):
        call_command("build_reward_model", "--out", str(tmp_path / "weights"), *TINY, stdout=StringIO())
    assert not (tmp_path / "weights").exists()
