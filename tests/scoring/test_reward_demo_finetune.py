"""Stage 2 on the demo's simulated votes: fine-tuned on some prompts, the reward model predicts the votes on prompts
it never saw about as well as the simulation's own true preference model does on the same votes, on each axis.

It starts from the bundled checkpoint (whose stage 2 saw seed 0's demo) on another seed's prompts and renders."""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from django.conf import settings

from arena.demo import demo_catalogue_seed, demo_votes_simulate
from scoring.reward.checkpoint import checkpoint_load
from scoring.reward.train import FinetuneSettings
from scoring.reward_training import demo_finetune

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
# A seed the bundled checkpoint was not fine-tuned on (it used seed 0): other prompts, other renders.
SEED = 7
# Enough held-out votes that each axis on its own has a few hundred decisive answers (see _margin).
PROMPTS = 16
VOTES = 2400
HOLDOUT_FRACTION = 0.25
AXES = ("overall", "musicality", "prompt_alignment")


@pytest.fixture
def two_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("two_threads")
def test_fine_tuning_on_demo_votes_predicts_held_out_prompts_nearly_as_well_as_the_true_model() -> None:
    started = time.perf_counter()
    demo_catalogue_seed(seed=SEED, systems=6, prompts=PROMPTS, duration_s=3.0, sample_rate=24000)
    demo_votes_simulate(seed=SEED, votes=VOTES)
    seeded = time.perf_counter()
    finetune = FinetuneSettings(epochs=2, learning_rate=3e-4, patience=2, holdout_fraction=HOLDOUT_FRACTION,
                                seed=SEED, freeze_audio_encoder=True)
    start, _ = checkpoint_load(path=Path(settings.EARSHOT_REWARD_MODEL_PATH))
    _, metrics, votes = demo_finetune(network=start, settings_ft=finetune)
    model, truth, before = metrics["holdout"], metrics["true_model_holdout"], metrics["holdout_before_finetune"]
    print(f"\n{votes['votes']} votes on {votes['prompts']} prompts x {len(votes['systems'])} systems; "
          f"{metrics['holdout_votes']} held out ({metrics['holdout_groups']} prompts); best epoch "
          f"{metrics['best_epoch']}; seeding {seeded - started:.1f} s, fine-tuning {metrics['train_seconds']} s")
    print(f"{'axis':<18}{'pairs':>6}{'before':>8}{'model':>8}{'true model':>12}{'margin':>8}{'chance+':>9}")
    for axis in AXES:
        n, true_accuracy = model[axis]["decisive_pairs"], truth[axis]["accuracy"]
        print(f"{axis:<18}{n:>6}{before[axis]['accuracy']:>8.3f}{model[axis]['accuracy']:>8.3f}"
              f"{true_accuracy:>12.3f}{_margin(true_accuracy, n):>8.3f}{0.5 + _margin(0.5, n):>9.3f}")

    # The true model is the best predictor there is (up to each rater's small side bias), so the fine-tuned
    # network can only fall short of it; on each axis it must come within two standard errors of the true model's
    # accuracy on the same votes, and lie above what chance alone reaches on that many votes.
    for axis in AXES:
        n = model[axis]["decisive_pairs"]
        assert n == truth[axis]["decisive_pairs"] and n >= 250, axis
        assert model[axis]["accuracy"] >= truth[axis]["accuracy"] - _margin(truth[axis]["accuracy"], n), axis
        assert model[axis]["accuracy"] > 0.5 + _margin(0.5, n), axis


def _margin(accuracy: float, pairs: int) -> float:
    """Two standard errors of an accuracy measured on `pairs` votes: the gap chance alone can make on this sample."""
    return 2 * math.sqrt(accuracy * (1 - accuracy) / max(pairs, 1))
