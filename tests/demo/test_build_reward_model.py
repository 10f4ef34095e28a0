"""`manage.py build_reward_model` with a tiny budget: both stages and the demo run, and the checkpoint it writes loads,
names its recipe and records the held-out figures; a database with votes is refused."""
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
        "--no-progress"]


@pytest.fixture(autouse=True)
def _threads_restored() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_it_builds_a_checkpoint_from_both_stages_and_the_demo(tmp_path: Path) -> None:
    out = StringIO()
    call_command("build_reward_model", "--out", str(tmp_path / "weights"), "--seed", "1", *TINY, stdout=out,
                 stderr=StringIO())
    assert Vote.objects.count() == 60
    network, info = checkpoint_load(path=tmp_path / "weights")
    config = json.loads((tmp_path / "weights" / "config.json").read_text())
    assert config["version"] == "bundled-demo-v3" and config["training"]["command"] == "make reward-model"
    assert config["training"]["stage1"]["pieces"] == 4 and config["training"]["stage1"]["validation_pieces"] == 2
    assert config["training"]["stage1"]["settings"]["steps"] == 2
    assert config["training"]["stage2"]["votes"]["votes"] == 60
    assert set(config["metrics"]["held_out_accuracy"]) <= set(network.axes)
    assert set(config["training"]["seconds"]) == {"stage1", "seed_demo", "stage2", "total"}
    assert [p.name for p in tmp_path.iterdir()] == ["weights"]  # the staging folder is gone
    text = out.getvalue()
    assert "demo (seed 1): clips imported 18, skipped 0; 60 votes" in text
    assert f"sha256 {info.sha256}" in text


def test_it_refuses_a_database_with_votes(tmp_path: Path) -> None:
    battle = BattleFactory()
    Vote.objects.create(battle=battle, rater=battle.rater, system_a=battle.clip_a.system,
                        system_b=battle.clip_b.system, prompt=battle.prompt, choice="a")
    with pytest.raises(CommandError, match="empty scratch database"):
        call_command("build_reward_model", "--out", str(tmp_path / "weights"), *TINY, stdout=StringIO())
    assert not (tmp_path / "weights").exists()
