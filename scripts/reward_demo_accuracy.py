"""How well a reward-model checkpoint orders the demo systems' clips, per axis, with no vote noise.

Usage: .venv/bin/python scripts/reward_demo_accuracy.py [--weights reward/ml/weights] [--seed 7] [--prompts 10]

It renders the demo catalogue of a seed (every demo system's clip for each prompt, 3 s at 24 kHz, as the fine-tune
test does; nothing is written to a database), scores every clip, and for every pair of clips on the same prompt
takes the probability the simulation's true preference model gives that people prefer one side (Bradley–Terry on
the systems' strengths, an average rater). The model's expected accuracy is the mean probability of the side it
ranks higher; the true model's is the mean of max(p, 1 - p), the best any predictor can expect. Held-out vote
accuracies measure the same thing through a few hundred noisy votes; these figures do not depend on which votes
were drawn, so a change to the model can be judged in one run. It also prints each axis's mean ranking of the
systems.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "reward" / "ml" / "weights")
    parser.add_argument("--seed", type=int, default=7, help="demo seed to render (the bundled model saw seed 0)")
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)  # embedded settings: nothing here touches a database
    import django

    django.setup()
    import soundfile
    import torch
    from tqdm import tqdm

    from demo import synth
    from demo.services import demo_axis_strengths, demo_clip_seed, demo_prompt_specs
    from reward.ml.interface import BundledRewardModel, ClipInput

    torch.set_num_threads(args.threads)
    model = BundledRewardModel.from_path(args.weights)
    profiles = synth.DEMO_SYSTEMS
    truth = demo_axis_strengths()
    expected: dict[str, list[float]] = {axis: [] for axis in truth}
    best: dict[str, list[float]] = {axis: [] for axis in truth}
    centred = {axis: np.zeros(len(profiles)) for axis in truth}
    specs = demo_prompt_specs(seed=args.seed, count=args.prompts, duration_s=3.0)
    with tempfile.TemporaryDirectory(prefix="earshot-demo-accuracy-") as folder:
        for prompt_index, spec in enumerate(tqdm(specs, desc="prompts", unit="prompt")):
            clips = []
            for system_index, profile in enumerate(profiles):
                seed = demo_clip_seed(seed=args.seed, system_index=system_index, prompt_index=prompt_index)
                path = Path(folder) / f"{prompt_index}-{system_index}.wav"
                audio = synth.render_system_clip(profile, spec, sample_rate=24_000, seed=seed)
                soundfile.write(str(path), audio, 24_000, subtype="PCM_16")
                clips.append(ClipInput(audio=path, prompt_text=synth.spec_prompt_text(spec)))
            scores = model.score(clips)
            for axis, strength in truth.items():
                values = scores[axis]
                centred[axis] += values - values.mean()
                for i, j in itertools.combinations(range(len(profiles)), 2):
                    p = 1.0 / (1.0 + math.exp(-(strength[profiles[i].slug] - strength[profiles[j].slug])))
                    expected[axis].append(p if values[i] > values[j] else 1.0 - p)
                    best[axis].append(max(p, 1.0 - p))
    print(f"{args.weights}: demo seed {args.seed}, {args.prompts} prompts x {len(profiles)} systems, "
          f"{len(expected['overall'])} pairs per axis")
    print(f"{'axis':<18}{'model':>8}{'true model':>12}{'gap':>8}   systems by mean score")
    for axis in truth:
        order = " > ".join(profiles[k].slug for k in np.argsort(-centred[axis]))
        model_accuracy, true_accuracy = float(np.mean(expected[axis])), float(np.mean(best[axis]))
        print(f"{axis:<18}{model_accuracy:>8.3f}{true_accuracy:>12.3f}{true_accuracy - model_accuracy:>8.3f}   "
              f"{order}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
