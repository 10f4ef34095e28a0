"""The reward model on real recordings: excerpts of the test tracks (reward/ml/recordings.py) against copies damaged
by implementations training never used (reward/ml/heldout.py), loudness-matched; the share of pairs in which the
model scores the clean excerpt higher, per condition, per implementation and per damage family, on overall and
musicality, and the targets they must reach (`damage_targets_missed`).

    python -m reward.ml.realtest [--weights reward/ml/weights]   # prints the table (one thread)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reward.ml import heldout
from reward.ml.degrade import loudness_match
from reward.ml.interface import ClipInput, network_score_clips
from reward.ml.network import RewardNetwork
from reward.ml.recordings import Excerpt, excerpts_take, tracks_load

Damage = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

EXCERPT_SECONDS = 6.0
EXCERPTS_PER_TRACK = 3
SAMPLE_RATE = 24_000
# Overall and musicality must prefer the clean excerpt in at least this share of pairs, per family and per
# implementation of these families; pitch wobble at ±40 cents in at least WOBBLE_TARGET.
FAMILY_TARGETS = {"noise": 0.95, "clipping": 0.95, "low-pass": 0.95, "mp3": 0.95}
WOBBLE_TARGET = 0.85
WOBBLE_TARGET_CENTS = 40
AXES = ("overall", "musicality")


@dataclass(frozen=True)
class Condition:
    """One held-out damage at one setting."""

    family: str
    implementation: str
    parameter: str
    apply: Damage


def _damage(function: Callable[..., np.ndarray], *, rate: bool = True, rng: bool = False, **fixed: Any) -> Damage:
    """A Damage calling `function` with `fixed` keywords, and the sample rate and generator where it takes them."""

    def apply(samples: np.ndarray, sample_rate: int, generator: np.random.Generator) -> np.ndarray:
        extra: dict[str, Any] = dict(fixed)
        if rate:
            extra["sample_rate"] = sample_rate
        if rng:
            extra["rng"] = generator
        return function(samples=samples, **extra)

    return apply


def _conditions() -> tuple[Condition, ...]:
    made: list[Condition] = []

    def add(family: str, implementation: str, parameter: str, apply: Damage) -> None:
        made.append(Condition(family, implementation, parameter, apply))

    for cutoff in (3000, 6000):
        add("low-pass", "biquad (torchaudio)", f"{cutoff // 1000} kHz",
            _damage(heldout.lowpass_biquad, cutoff_hz=cutoff))
        add("low-pass", "FFT brick-wall, 3% transition", f"{cutoff // 1000} kHz",
            _damage(heldout.lowpass_fft_brickwall, cutoff_hz=cutoff))
    for low_rate in (8000, 11025, 16000):
        add("low-pass", "resample down and back (torchaudio sinc)", f"{low_rate / 1000:g} kHz",
            _damage(heldout.lowpass_resample, low_rate=low_rate))
    for kbps in (32, 48, 64):
        add("mp3", "libsndfile constant bit rate", f"{kbps} kbit/s", _damage(heldout.mp3_constant, kbps=kbps))
    for kind, name in (("pink-kellet", "pink (Kellet filter)"), ("brown-leaky", "brown (leaky integrator)")):
        for snr in (10, 20):
            add("noise", name, f"{snr} dB SNR", _damage(heldout.noise_heldout, rng=True, kind=kind, snr_db=snr))
    for kind, snr in (("hum-50", 10), ("hum-60", 20)):
        add("noise", "mains hum", f"{kind[4:]} Hz, {snr} dB SNR",
            _damage(heldout.noise_heldout, rng=True, kind=kind, snr_db=snr))
    for name, clipper in (("arctan", heldout.clip_arctan), ("cubic", heldout.clip_cubic),
                          ("16-bit overload", heldout.clip_digital_overload)):
        for fraction in (0.02, 0.1):
            add("clipping", name, f"{fraction:.0%} of samples", _damage(clipper, rate=False, fraction=fraction))
    for cents, speed in ((40, 0.7), (40, 4.0), (15, 0.7)):
        add("pitch wobble", "triangle, cubic spline", f"±{cents} cents at {speed:g} Hz",
            _damage(heldout.wobble_triangle_cubic, rng=True, depth_cents=cents, rate_hz=speed))
    add("dropout", "stutter (repeated block)", "5% of the clip",
        _damage(heldout.dropouts_stutter, rng=True, fraction=0.05))
    add("dropout", "faded gaps", "5% of the clip", _damage(heldout.dropouts_faded, rng=True, fraction=0.05))
    return tuple(made)


CONDITIONS = _conditions()


def test_excerpts(*, seconds: float = EXCERPT_SECONDS, per_track: int = EXCERPTS_PER_TRACK) -> list[Excerpt]:
    """The test split's excerpts at the model's rate (RecordingsError when the music cache is missing)."""
    return excerpts_take(tracks=tracks_load(split="test"), per_track=per_track, seconds=seconds,
                         sample_rate=SAMPLE_RATE)


def _share(values: Sequence[bool]) -> float:
    return round(float(np.mean(values)), 4) if values else float("nan")


def damage_table(
    *, network: RewardNetwork, excerpts: Sequence[Excerpt], conditions: Sequence[Condition] = CONDITIONS,
    seed: int = 0,
) -> dict[str, Any]:
    """Score every excerpt and its damaged copies; the share of pairs won by the clean side per condition
    ('rows'), per family and implementation ('implementations') and per family ('families')."""
    started = time.perf_counter()
    clean_inputs = [ClipInput(audio=(excerpt.samples, excerpt.sample_rate)) for excerpt in excerpts]
    clean = network_score_clips(network=network, clips=clean_inputs)
    wins: list[tuple[Condition, dict[str, bool]]] = []
    for number, condition in enumerate(CONDITIONS if conditions is None else conditions):
        damaged_inputs = []
        for index, excerpt in enumerate(excerpts):
            rng = np.random.default_rng([seed, number, index])
            damaged = condition.apply(excerpt.samples, excerpt.sample_rate, rng)
            matched = loudness_match(samples=damaged, reference=excerpt.samples, sample_rate=excerpt.sample_rate)
            damaged_inputs.append(ClipInput(audio=(matched, excerpt.sample_rate)))
        scores = network_score_clips(network=network, clips=damaged_inputs)
        for index in range(len(excerpts)):
            wins.append((condition, {axis: bool(clean[axis][index] > scores[axis][index]) for axis in AXES}))

    def summary(selected: list[dict[str, bool]]) -> dict[str, Any]:
        return {"pairs": len(selected), **{axis: _share([row[axis] for row in selected]) for axis in AXES}}

    rows, implementations, families = [], [], []
    seen_rows: dict[tuple[str, str, str], list[dict[str, bool]]] = {}
    seen_implementations: dict[tuple[str, str], list[dict[str, bool]]] = {}
    seen_families: dict[str, list[dict[str, bool]]] = {}
    for condition, won in wins:
        seen_rows.setdefault((condition.family, condition.implementation, condition.parameter), []).append(won)
        seen_implementations.setdefault((condition.family, condition.implementation), []).append(won)
        seen_families.setdefault(condition.family, []).append(won)
    for (family, implementation, parameter), selected in seen_rows.items():
        target = FAMILY_TARGETS.get(family)
        if family == "pitch wobble" and parameter.startswith(f"±{WOBBLE_TARGET_CENTS} cents"):
            target = WOBBLE_TARGET
        rows.append({"family": family, "implementation": implementation, "parameter": parameter,
                     "target": target, **summary(selected)})
    for (family, implementation), selected in seen_implementations.items():
        implementations.append({"family": family, "implementation": implementation,
                                "target": FAMILY_TARGETS.get(family), **summary(selected)})
    for family, selected in seen_families.items():
        families.append({"family": family, "target": FAMILY_TARGETS.get(family), **summary(selected)})
    tracks = sorted({excerpt.track.key for excerpt in excerpts})
    return {
        "excerpts": len(excerpts),
        "excerpt_seconds": float(excerpts[0].samples.shape[0] / excerpts[0].sample_rate) if excerpts else 0.0,
        "tracks": tracks,
        "packages": sorted({excerpt.track.package for excerpt in excerpts}),
        "rows": rows,
        "implementations": implementations,
        "families": families,
        "targets": {**FAMILY_TARGETS, f"pitch wobble ±{WOBBLE_TARGET_CENTS} cents": WOBBLE_TARGET},
        "seconds": round(time.perf_counter() - started, 1),
    }


def damage_targets_missed(table: dict[str, Any]) -> list[str]:
    """What falls short of the targets, one readable line each (empty when all hold)."""
    missed = []
    for group in ("families", "implementations"):
        for row in table[group]:
            target = FAMILY_TARGETS.get(row["family"])
            if target is None:
                continue
            name = row["family"] + (f" / {row['implementation']}" if "implementation" in row else "")
            for axis in AXES:
                if not row[axis] >= target:
                    missed.append(f"{name}: {axis} {row[axis]:.3f} < {target}")
    wobble = [row for row in table["rows"] if row["family"] == "pitch wobble"
              and row["parameter"].startswith(f"±{WOBBLE_TARGET_CENTS} cents")]
    pairs = sum(row["pairs"] for row in wobble)
    for axis in AXES:
        share = sum(row[axis] * row["pairs"] for row in wobble) / pairs if pairs else float("nan")
        if not share >= WOBBLE_TARGET:
            missed.append(f"pitch wobble ±{WOBBLE_TARGET_CENTS} cents: {axis} {share:.3f} < {WOBBLE_TARGET}")
    return missed


def table_print(table: dict[str, Any], *, stream: Any = sys.stdout) -> None:
    print(f"{table['excerpts']} excerpts of {table['excerpt_seconds']:g} s from {len(table['tracks'])} test tracks "
          f"({', '.join(table['packages'])}); share of pairs preferring the clean excerpt:", file=stream)
    print(f"{'family':<14}{'implementation':<44}{'setting':<24}{'overall':>8}{'music.':>8}", file=stream)
    for row in table["rows"]:
        print(f"{row['family']:<14}{row['implementation']:<44}{row['parameter']:<24}{row['overall']:>8.3f}"
              f"{row['musicality']:>8.3f}", file=stream)
    for row in table["implementations"]:
        print(f"{row['family']:<14}{row['implementation']:<44}{'(all)':<24}{row['overall']:>8.3f}"
              f"{row['musicality']:>8.3f}", file=stream)
    for row in table["families"]:
        print(f"{row['family']:<14}{'(all)':<44}{'':<24}{row['overall']:>8.3f}{row['musicality']:>8.3f}", file=stream)


def main(argv: list[str] | None = None) -> int:
    from reward.ml.checkpoint import checkpoint_load
    from reward.ml.interface import DEFAULT_WEIGHTS_DIR

    parser = argparse.ArgumentParser(description="The reward model on real recordings with held-out damages.")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    network, _ = checkpoint_load(path=args.weights)
    table = damage_table(network=network, excerpts=test_excerpts())
    table_print(table)
    missed = damage_targets_missed(table)
    print("targets missed:" if missed else "all targets hold", *missed, sep="\n  ")
    print(f"{table['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
