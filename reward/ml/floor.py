"""The quality floor: after stage 2, the artefact penalty is raised (never lowered) until the network ranks clean
excerpts of real training recordings above damaged copies of them again, with a margin.

Stage 2 learns the demo's tastes from votes, and votes can teach a head that a damage is pleasant: the demo's
favoured faithful system is dull, and a loudness-matched dull copy carries relatively more bass, so the heads learnt
"more low end is better" and then preferred copies with mains hum (issue 16). The penalty is monotone (each figure
counts only in its damage direction, with a non-negative weight), so raising its weights can only make damaged audio
score lower; the heads, and so what votes taught about clean audio, stay as they are.

The scores are linear in the penalty's (softplus) weights, so the fit is a small convex problem: per axis, the
smallest increase of the weights (least squares) that brings the pairs' score differences above the margin (a
smooth hinge), solved by scipy's L-BFGS-B with each weight bounded below by its current value. By default only
the low-frequency weights may rise (hum and rumble are what stage 2 unteaches; the other figures keep the weights
stage 1 gave them), and every pair, hum or not, weighs on them: raising a figure that helps against hum but favours
another damage (the floor of the bass band falls in a dropout) costs that damage's pairs.

Pairs come from the train split of the real recordings (reward/ml/recordings.py) and training's own damage
implementations (reward/ml/degrade.py); the real-recording test (reward/ml/realtest.py) uses neither.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import optimize, special

from reward.ml.analysis import ARTEFACT_DIM, LOW_DIM
from reward.ml.degrade import (
    DAMAGE_MIXES,
    buzz_add,
    degradation_apply,
    degradation_draw_strength,
    loudness_match,
    noise_add,
)
from reward.ml.interface import ClipInput, network_score_clips
from reward.ml.network import RewardNetwork, softplus_inverse
from reward.ml.recordings import Excerpt

Progress = Callable[[str, int, int, dict[str, float]], None]

LOW_FREQUENCY = "low-frequency"
OTHER = "other"


@dataclass(frozen=True)
class FloorSettings:
    """How the floor is fitted. `margin` is in score units of the calibrated network (a difference of 1 is odds of
    e to 1 that people prefer the clean side, by the axis's fitted temperature)."""

    margin: float = 0.03
    # The smooth hinge's width, as a share of the margin.
    softness: float = 0.25
    # Weight of the squared increase against the hinge (per figure, per pair on average).
    increase_cost: float = 1e-3
    # Damaged copies per excerpt: of hum and rumble, and of one other damage each (kinds drawn evenly).
    low_frequency_per_excerpt: int = 3
    other_per_excerpt: int = 6
    snr_db: tuple[float, float] = (5.0, 30.0)
    # Which weights may rise: the low-frequency figures' ("low-frequency"), or every penalised figure's ("all").
    # Every pair speaks to every weight that may rise, so a weight that would help hum but hurt dropouts (the floor
    # of the bass band falls in a gap) rises only as far as both allow.
    figures: str = "low-frequency"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.figures not in ("low-frequency", "all"):
            raise ValueError(f"figures must be 'low-frequency' or 'all', got {self.figures!r}")
        if self.margin <= 0:
            raise ValueError(f"the margin must be positive, got {self.margin}")


@dataclass(frozen=True)
class FloorPairs:
    """Clean excerpts and damaged copies, as the network sees them: per axis the mean head score (the score before the
    penalty) of each clip, and each clip's penalised figures in their damage direction."""

    head: dict[str, np.ndarray]  # axis -> (clips,)
    damage: np.ndarray  # (clips, penalised figures)
    better: np.ndarray  # (pairs,) clip index of the clean side
    worse: np.ndarray  # (pairs,) clip index of the damaged side
    group: np.ndarray  # (pairs,) LOW_FREQUENCY or OTHER
    descriptions: list[str] = field(default_factory=list)


def _rumble(samples: np.ndarray, sample_rate: int, snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    corner = float(math.exp(rng.uniform(math.log(15.0), math.log(80.0))))
    out = noise_add(samples=samples, snr_db=snr_db, rng=rng, colour="brown", corner_fraction=corner / (sample_rate / 2))
    return out, f"brown noise flat below {corner:.0f} Hz at {snr_db:.1f} dB SNR"


def _buzz(samples: np.ndarray, sample_rate: int, snr_db: float, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    rectifier = "half" if rng.random() < 0.5 else "full"
    out = buzz_add(samples=samples, sample_rate=sample_rate, snr_db=snr_db, rng=rng, rectifier=rectifier)
    return out, f"mains buzz ({rectifier}-wave) at {snr_db:.1f} dB SNR"


_LOW_FREQUENCY_DAMAGES = (_buzz, _buzz, _rumble)
_OTHER_KINDS = tuple(DAMAGE_MIXES["real"])


def floor_pairs_make(
    *, network: RewardNetwork, excerpts: Sequence[Excerpt], settings: FloorSettings, progress: Progress | None = None
) -> FloorPairs:
    """Damage each excerpt (hum and rumble, and training's random chains), loudness-matched, and score every clip."""
    rng = np.random.default_rng([settings.seed, 16])
    clips: list[np.ndarray] = []
    rates: list[int] = []
    better: list[int] = []
    worse: list[int] = []
    group: list[str] = []
    descriptions: list[str] = []
    for excerpt in excerpts:
        clean_index = len(clips)
        clips.append(excerpt.samples)
        rates.append(excerpt.sample_rate)
        made: list[tuple[np.ndarray, str, str]] = []
        for _ in range(settings.low_frequency_per_excerpt):
            damage = _LOW_FREQUENCY_DAMAGES[int(rng.integers(len(_LOW_FREQUENCY_DAMAGES)))]
            damaged, how = damage(excerpt.samples, excerpt.sample_rate, float(rng.uniform(*settings.snr_db)), rng)
            made.append((damaged, how, LOW_FREQUENCY))
        for _ in range(settings.other_per_excerpt):
            # One damage of a kind drawn evenly from the real mix (so that MP3 and dropouts are as common as noise).
            kind = str(rng.choice(_OTHER_KINDS))
            strength = degradation_draw_strength(kind=kind, rng=rng)
            damaged, applied = degradation_apply(samples=excerpt.samples, sample_rate=excerpt.sample_rate, kind=kind,
                                                 strength=strength, rng=rng, mix="real")
            made.append((damaged, applied.description, OTHER))
        for damaged, how, kind in made:
            better.append(clean_index)
            worse.append(len(clips))
            clips.append(loudness_match(samples=damaged, reference=excerpt.samples, sample_rate=excerpt.sample_rate))
            rates.append(excerpt.sample_rate)
            group.append(kind)
            descriptions.append(how)
    head, damage_rows = _head_scores(network=network, clips=clips, rates=rates, progress=progress)
    return FloorPairs(head=head, damage=damage_rows, better=np.asarray(better), worse=np.asarray(worse),
                      group=np.asarray(group), descriptions=descriptions)


def _head_scores(
    *, network: RewardNetwork, clips: Sequence[np.ndarray], rates: Sequence[int], progress: Progress | None,
    chunk: int = 64,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per axis the clips' scores without the artefact penalty, and their penalised figures (damage direction)."""
    totals: dict[str, list[np.ndarray]] = {axis: [] for axis in network.artefact_weights}
    damage: list[np.ndarray] = []
    for start in range(0, len(clips), chunk):
        part = list(zip(clips[start : start + chunk], rates[start : start + chunk], strict=True))
        inputs = [ClipInput(audio=(samples, rate)) for samples, rate in part]
        analyses: list[torch.Tensor] = []
        scores = network_score_clips(network=network, clips=inputs, analyses=analyses)
        with torch.no_grad():
            rows = network.artefact_damage(torch.stack(analyses))
            for axis, weights in network.artefact_weights.items():
                totals[axis].append(scores[axis] + (rows @ F.softplus(weights)).double().numpy())
        damage.append(rows.double().numpy())
        if progress is not None:
            progress("quality floor", min(start + chunk, len(clips)), len(clips), {})
    return {axis: np.concatenate(values) for axis, values in totals.items()}, np.concatenate(damage)


def _raisable(settings: FloorSettings, figures: int) -> np.ndarray:
    """Indices of the penalised figures whose weights the floor may raise."""
    if settings.figures == "all":
        return np.arange(figures)
    return np.arange(ARTEFACT_DIM, min(ARTEFACT_DIM + LOW_DIM, figures))


def _fit(*, margin_left: np.ndarray, rise: np.ndarray, start: np.ndarray, settings: FloorSettings) -> np.ndarray:
    """The weights w >= start minimising mean(smooth hinge(margin_left - rise @ (w - start))) + cost |w - start|^2,
    where margin_left is what each pair lacks of the margin at w = start."""
    width = settings.margin * settings.softness

    def objective(weights: np.ndarray) -> tuple[float, np.ndarray]:
        increase = weights - start
        short = (margin_left - rise @ increase) / width
        loss = width * np.logaddexp(0.0, short)
        slope = special.expit(short)  # d loss / d short
        value = float(loss.mean() + settings.increase_cost * increase @ increase)
        gradient = -(rise.T @ slope) / len(short) + 2 * settings.increase_cost * increase
        return value, gradient

    bounds = [(float(low), None) for low in start]
    result = optimize.minimize(objective, start.copy(), jac=True, method="L-BFGS-B", bounds=bounds)
    return np.maximum(result.x, start)


def penalty_floor_fit(*, network: RewardNetwork, pairs: FloorPairs, settings: FloorSettings) -> dict[str, Any]:
    """Raise the network's artefact-penalty weights in place (see the module); returns per axis and group the share
    of pairs ranked right and above the margin before and after, and the weights' increase."""
    started = time.perf_counter()
    report: dict[str, Any] = {"pairs": int(len(pairs.better)), "margin": settings.margin, "axes": {}}
    raisable = _raisable(settings, pairs.damage.shape[1])  # none for a network without low-frequency figures
    rise = pairs.damage[pairs.worse] - pairs.damage[pairs.better]
    for axis, parameter in network.artefact_weights.items():
        weights = F.softplus(parameter.detach()).double().numpy().copy()
        before = _pair_figures(pairs=pairs, axis=axis, weights=weights, margin=settings.margin)
        if raisable.size:
            difference = pairs.head[axis][pairs.better] - pairs.head[axis][pairs.worse] - rise @ weights
            weights[raisable] = _fit(margin_left=settings.margin - difference, rise=rise[:, raisable],
                                     start=weights[raisable], settings=settings)
        after = _pair_figures(pairs=pairs, axis=axis, weights=weights, margin=settings.margin)
        old = F.softplus(parameter.detach()).double().numpy()
        with torch.no_grad():
            parameter.copy_(softplus_inverse(torch.from_numpy(weights)).to(parameter.dtype))
        report["axes"][axis] = {"before": before, "after": after,
                                "increase": [round(float(value), 5) for value in weights - old]}
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _pair_figures(*, pairs: FloorPairs, axis: str, weights: np.ndarray, margin: float) -> dict[str, dict[str, float]]:
    scores = pairs.head[axis] - pairs.damage @ weights
    difference = scores[pairs.better] - scores[pairs.worse]
    figures = {}
    for group in (LOW_FREQUENCY, OTHER):
        chosen = pairs.group == group
        if chosen.any():
            figures[group] = {"right": round(float(np.mean(difference[chosen] > 0)), 4),
                              "above_margin": round(float(np.mean(difference[chosen] >= margin)), 4)}
    return figures
