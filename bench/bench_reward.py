"""Throughput of the bundled reward model on ONE CPU thread: 10 s stereo 44.1 kHz files, counting
decode (soundfile), resampling, log-mel and the network. Target: at least 200x real time.

    python bench/bench_reward.py [--clips 20] [--repeats 5] [--weights reward/ml/weights]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reward.ml.analysis import clip_analysis  # noqa: E402
from reward.ml.audio import audio_load_mono, mono_segments  # noqa: E402
from reward.ml.interface import DEFAULT_WEIGHTS_DIR, ClipInput, load_reward_model  # noqa: E402
from reward.ml.text import text_batch  # noqa: E402

SECONDS = 10.0
RATE = 44_100


def _clip(rng: np.random.Generator) -> np.ndarray:
    """Ten seconds of chords with a noise-burst beat: enough texture for a realistic workload."""
    time_axis = np.arange(int(SECONDS * RATE)) / RATE
    root = rng.uniform(110, 220)
    tone = sum(np.sin(2 * np.pi * root * ratio * time_axis) / (k + 1) for k, ratio in enumerate((1, 1.25, 1.5, 2)))
    beat = rng.standard_normal(time_axis.shape) * np.exp(-((time_axis * 2) % 1) * 20)
    mix = 0.15 * tone + 0.05 * beat
    stereo = np.stack([mix, np.roll(mix, 50)], axis=1)
    return (stereo / np.abs(stereo).max() * 0.8).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_reward_model(path=args.weights)
    network = getattr(model, "network", None)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(args.clips):
            path = Path(folder) / f"clip{index}.wav"
            soundfile.write(path, _clip(rng), RATE, subtype="PCM_16")
            paths.append(path)
        clips = [ClipInput(audio=path, prompt_text="a calm piano piece") for path in paths]
        model.score(clips[:1])  # warm-up
        # Best and median of several passes: on a shared machine the best says what the code can do.
        totals = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            model.score(clips)
            totals.append(time.perf_counter() - started)
        front_end = network_time = float("nan")
        if network is not None:
            front_ends, networks = [], []
            for _ in range(args.repeats):
                started = time.perf_counter()
                segments = []
                for path in paths:
                    mono = audio_load_mono(source=path, sample_rate=network.front_end.sample_rate)
                    analysis = None
                    if network.config.analysis:
                        analysis = clip_analysis(mono=mono, sample_rate=network.front_end.sample_rate)
                    segments.append((mono_segments(mono=mono, config=network.front_end), analysis))
                front_ends.append(time.perf_counter() - started)
                started = time.perf_counter()
                with torch.no_grad():
                    for batch, analysis in segments:
                        rows = batch.shape[0]
                        condition = network.conditioning(
                            prompts=text_batch(texts=["a calm piano piece"] * rows, config=network.text),
                            lyrics=text_batch(texts=[None] * rows, config=network.text),
                            reference_embedding=None,
                            reference_present=torch.zeros(rows, dtype=torch.bool),
                        )
                        network(batch, condition, None if analysis is None else analysis.expand(rows, -1))
                networks.append(time.perf_counter() - started)
            front_end, network_time = min(front_ends), min(networks)
    audio_seconds = args.clips * SECONDS
    print(f"reward model bench: {args.clips} clips of {SECONDS:g} s stereo {RATE} Hz WAV, torch threads = 1")
    best, median = min(totals), float(np.median(totals))
    passes = f"median of {args.repeats} passes"
    print(f"  clips per second      {args.clips / best:8.1f}  ({passes}: {args.clips / median:.1f})")
    factor = f"{passes}: {audio_seconds / median:.1f}x; target >= 200x"
    print(f"  real-time factor      {audio_seconds / best:8.1f}x ({factor})")
    print(f"  per clip              {1000 * best / args.clips:8.1f} ms")
    print(f"    decode + front-end  {1000 * front_end / args.clips:8.1f} ms (log-mel segments and analysis figures)")
    print(f"    network             {1000 * network_time / args.clips:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
