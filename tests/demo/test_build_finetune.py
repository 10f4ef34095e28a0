"""Stage 2 on the demo's simulated votes: fine-tuned on some prompts, the reward model predicts the votes on prompts
it never saw about as well as the simulation's own true preference model does on the same votes.

It starts from the bundled checkpoint (whose stage 2 saw seed 0's demo) on another seed's prompts and renders."""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from django.conf import settings

from demo.build import demo_finetune
from demo.services import demo_catalogue_seed, demo_votes_simulate
from reward.ml.checkpoint import checkpoint_load
from reward.ml.train import FinetuneSettings

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
# A seed the bundled checkpoint was not fine-tuned on (it used seed 0): other prompts, other renders.
SEED = 7
PROMPTS = 5
VOTES = 600


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
    finetune = FinetuneSettings(epochs=3, learning_rate=3e-4, patience=3, holdout_fraction=0.2, seed=SEED,
                                freeze_audio_encoder=True)
    start, _ = checkpoint_load(path=Path(settings.EARSHOT_REWARD_MODEL_PATH))
    _, metrics, votes = demo_finetune(network=start, settings_ft=finetune)
    model, truth, before = metrics["holdout"], metrics["true_model_holdout"], metrics["holdout_before_finetune"]
    print(f"\n{votes['votes']} votes on {votes['prompts']} prompts x {len(votes['systems'])} systems; "
          f"{metrics['holdout_votes']} held out ({metrics['holdout_groups']} prompt); best epoch "
          f"{metrics['best_epoch']}; seeding {seeded - started:.1f} s, fine-tuning {metrics['train_seconds']} s")
    print(f"{'axis':<18}{'pairs':>6}{'before':>8}{'model':>8}{'true model':>12}{'margin':>8}")
    for axis in ("overall", "musicality", "prompt_alignment"):
        n, true_accuracy = model[axis]["decisive_pairs"], truth[axis]["accuracy"]
        print(f"{axis:<18}{n:>6}{before[axis]['accuracy']:>8.3f}{model[axis]['accuracy']:>8.3f}"
              f"{true_accuracy:>12.3f}{_margin(true_accuracy, n):>8.3f}")

    # The true model is the best predictor there is (up to each rater's small side bias), so the fine-tuned
    # network can only fall short of it. Pooled over the axes (every decisive held-out answer, about 200 here; one
    # axis alone has 50-100, too few to tell a real gap from chance), it must come within the margin. The same
    # comparison per axis without vote noise, on ten prompts: scripts/reward_demo_accuracy.py.
    pairs = sum(model[axis]["decisive_pairs"] for axis in model)
    assert pairs == sum(truth[axis]["decisive_pairs"] for axis in truth)
    pooled_model = sum(model[axis]["accuracy"] * model[axis]["decisive_pairs"] for axis in model) / pairs
    pooled_truth = sum(truth[axis]["accuracy"] * truth[axis]["decisive_pairs"] for axis in truth) / pairs
    margin = _margin(pooled_truth, pairs)
    print(f"{'pooled':<18}{pairs:>6}{'':>8}{pooled_model:>8.3f}{pooled_truth:>12.3f}{margin:>8.3f}")
    # Measured gap pooled_model - pooled_truth: -0.04 to 0.00 on seeds 3, 7 and 8, the same on default float kernels
    # (NOTES.md, "Tests that train or time things"); the margin is 0.05-0.06.
    assert pooled_model >= pooled_truth - margin
    assert pooled_model > 0.5 + _margin(0.5, pairs) / 2


def _margin(accuracy: float, pairs: int) -> float:
    """Two standard errors of an accuracy measured on `pairs` votes: the gap chance alone can make on this sample."""
    return 2 * math.sqrt(accuracy * (1 - accuracy) / max(pairs, 1))
