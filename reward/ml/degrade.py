"""Degradations that make pseudo-preference pairs (a clip beats a damaged copy of itself): noise,
clipping, low-pass, pitch wobble and quantisation, drawn over wide strength ranges, sometimes
chained, always loudness-matched to the original so that level is no shortcut."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio
from scipy import signal

# Kinds of damage and how often a draw picks each one.
KIND_WEIGHTS: dict[str, float] = {
    "noise": 0.30,
    "clip": 0.26,
    "lowpass": 0.26,
    "wobble": 0.10,
    "quantise": 0.08,
}
NOISE_COLOURS = ("white", "pink", "brown", "blue")


@dataclass(frozen=True)
class Degradation:
    """One applied damage: its kind, the main strength parameter and a readable description."""

    kind: str
    strength: float
    description: str


def _as_float(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, dtype=np.float64)


def _power(samples: np.ndarray) -> float:
    return float(np.mean(np.square(samples, dtype=np.float64)))


def noise_coloured(*, length: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise whose spectrum falls (pink, brown) or rises (blue) with frequency."""
    white = rng.standard_normal(length)
    if colour == "white":
        shaped = white
    else:
        exponent = {"pink": -0.5, "brown": -1.0, "blue": 0.5}[colour]
        spectrum = np.fft.rfft(white)
        frequencies = np.arange(spectrum.shape[0], dtype=np.float64)
        frequencies[0] = 1.0
        shaped = np.fft.irfft(spectrum * frequencies**exponent, n=length)
    return shaped / math.sqrt(max(_power(shaped), 1e-20))


def noise_add(
    *, samples: np.ndarray, snr_db: float, rng: np.random.Generator, colour: str = "white"
) -> np.ndarray:
    """Add noise `snr_db` below the clip's mean power."""
    clean = _as_float(samples)
    noise = noise_coloured(length=clean.shape[0], colour=colour, rng=rng)
    scale = math.sqrt(max(_power(clean), 1e-20) / 10 ** (snr_db / 10))
    return (clean + scale * noise).astype(np.float32)


def clip_threshold(*, samples: np.ndarray, fraction: float) -> float:
    """The magnitude above which `fraction` of the samples lie."""
    return float(np.quantile(np.abs(samples), 1.0 - fraction))


def clip_hard(*, samples: np.ndarray, fraction: float) -> np.ndarray:
    """Flatten the loudest `fraction` of samples at a threshold, as an overdriven converter does."""
    threshold = max(clip_threshold(samples=samples, fraction=fraction), 1e-9)
    return np.clip(samples, -threshold, threshold).astype(np.float32)


def clip_soft(*, samples: np.ndarray, fraction: float) -> np.ndarray:
    """Saturate with tanh around the same threshold, as an overdriven amplifier does."""
    threshold = max(clip_threshold(samples=samples, fraction=fraction), 1e-9)
    return (threshold * np.tanh(_as_float(samples) / threshold)).astype(np.float32)


def lowpass(*, samples: np.ndarray, sample_rate: int, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Butterworth low-pass: the dull sound of a band-limited encode or a cheap transmission."""
    nyquist = sample_rate / 2
    if cutoff_hz >= nyquist * 0.98:
        return np.asarray(samples, dtype=np.float32)
    sos = signal.butter(order, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, _as_float(samples)).astype(np.float32)


def pitch_wobble(
    *,
    samples: np.ndarray,
    sample_rate: int,
    depth_cents: float,
    rate_hz: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Wow and flutter: read the clip at a speed that drifts sinusoidally (plus a little jitter)."""
    length = samples.shape[0]
    seconds = np.arange(length, dtype=np.float64) / sample_rate
    phase = rng.uniform(0, 2 * math.pi)
    cents = depth_cents * np.sin(2 * math.pi * rate_hz * seconds + phase)
    jitter_rate = rate_hz * rng.uniform(2.0, 5.0)
    cents += 0.25 * depth_cents * np.sin(2 * math.pi * jitter_rate * seconds + rng.uniform(0, 2 * math.pi))
    speed = 2.0 ** (cents / 1200.0)
    position = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    position = np.clip(position, 0, length - 1)
    return np.interp(position, np.arange(length), _as_float(samples)).astype(np.float32)


def quantise(*, samples: np.ndarray, bits: int) -> np.ndarray:
    """Requantise to `bits` bits of the clip's peak: gritty, level-following noise."""
    peak = max(float(np.max(np.abs(samples))), 1e-9)
    steps = 2 ** (bits - 1)
    return (np.round(_as_float(samples) / peak * steps) / steps * peak).astype(np.float32)


def loudness_lufs(*, samples: np.ndarray, sample_rate: int) -> float | None:
    """ITU-R BS.1770 integrated loudness of a mono clip, or None when too short or silent."""
    if samples.shape[0] < int(0.4 * sample_rate) + 1:
        return None
    value = float(torchaudio.functional.loudness(torch.from_numpy(_as_float(samples)[None, :]).float(), sample_rate))
    return value if math.isfinite(value) else None


def loudness_match(
    *, samples: np.ndarray, reference: np.ndarray, sample_rate: int, reference_lufs: float | None = None
) -> np.ndarray:
    """Scale `samples` to the loudness of `reference` (BS.1770; RMS for very short clips).
    `reference_lufs` saves measuring the reference again when it is already known."""
    target = reference_lufs if reference_lufs is not None else loudness_lufs(samples=reference, sample_rate=sample_rate)
    out = np.asarray(samples, dtype=np.float64)
    current = loudness_lufs(samples=out, sample_rate=sample_rate)
    if target is None or current is None:
        gain = math.sqrt(max(_power(reference), 1e-20) / max(_power(out), 1e-20))
        return (out * gain).astype(np.float32)
    # The relative gate depends on level, so one gain can miss by a fraction of a LU on noisy
    # material; a second look settles it.
    for _ in range(2):
        out = out * 10 ** ((target - current) / 20)
        current = loudness_lufs(samples=out, sample_rate=sample_rate)
        if current is None or abs(current - target) < 0.05:
            break
    return out.astype(np.float32)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def degradation_draw_strength(*, kind: str, rng: np.random.Generator) -> float:
    """A strength for `kind`, drawn over a wide range (the prototype transferred only so)."""
    if kind == "noise":
        return float(rng.uniform(-5.0, 38.0))
    if kind == "clip":
        return _log_uniform(rng, 0.001, 0.4)
    if kind == "lowpass":
        return _log_uniform(rng, 700.0, 10_500.0)
    if kind == "wobble":
        return float(rng.uniform(6.0, 90.0))
    if kind == "quantise":
        return float(rng.integers(3, 10))
    raise ValueError(f"unknown degradation kind {kind!r}")


def _worse(kind: str, first: float, second: float) -> bool:
    """Whether strength `first` damages more than `second` for this kind."""
    if kind in ("noise", "lowpass", "quantise"):
        return first < second
    return first > second


def degradation_apply(
    *, samples: np.ndarray, sample_rate: int, kind: str, strength: float, rng: np.random.Generator
) -> tuple[np.ndarray, Degradation]:
    """Apply one damage of a given strength (other details, like noise colour, drawn from rng)."""
    if kind == "noise":
        colour = str(rng.choice(NOISE_COLOURS, p=[0.45, 0.3, 0.1, 0.15]))
        out = noise_add(samples=samples, snr_db=strength, rng=rng, colour=colour)
        return out, Degradation(kind, strength, f"{colour} noise at {strength:.1f} dB SNR")
    if kind == "clip":
        if rng.random() < 0.7:
            out, how = clip_hard(samples=samples, fraction=strength), "hard"
        else:
            out, how = clip_soft(samples=samples, fraction=strength), "soft"
        return out, Degradation(kind, strength, f"{how} clipping of {strength:.2%} of samples")
    if kind == "lowpass":
        order = int(rng.choice([2, 4, 6, 8, 12]))
        out = lowpass(samples=samples, sample_rate=sample_rate, cutoff_hz=strength, order=order)
        return out, Degradation(kind, strength, f"low-pass at {strength:.0f} Hz, order {order}")
    if kind == "wobble":
        rate = _log_uniform(rng, 0.3, 12.0)
        out = pitch_wobble(samples=samples, sample_rate=sample_rate, depth_cents=strength, rate_hz=rate, rng=rng)
        return out, Degradation(kind, strength, f"pitch wobble of {strength:.0f} cents at {rate:.1f} Hz")
    if kind == "quantise":
        out = quantise(samples=samples, bits=int(strength))
        return out, Degradation(kind, strength, f"quantised to {int(strength)} bits")
    raise ValueError(f"unknown degradation kind {kind!r}")


def degradation_random(
    *, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[Degradation]]:
    """A random chain of one to three damages (mostly one), loudness-matched to the input."""
    count = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    kinds = list(KIND_WEIGHTS)
    weights = np.array([KIND_WEIGHTS[kind] for kind in kinds])
    chosen = rng.choice(kinds, size=count, replace=False, p=weights / weights.sum())
    out = np.asarray(samples, dtype=np.float32)
    applied: list[Degradation] = []
    for kind in chosen:
        strength = degradation_draw_strength(kind=str(kind), rng=rng)
        out, done = degradation_apply(samples=out, sample_rate=sample_rate, kind=str(kind), strength=strength, rng=rng)
        applied.append(done)
    return loudness_match(samples=out, reference=samples, sample_rate=sample_rate), applied


def degradation_graded_pair(
    *, samples: np.ndarray, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, Degradation, Degradation]:
    """Two copies damaged the same way at different strengths: (milder, harsher, how, how)."""
    kinds = list(KIND_WEIGHTS)
    weights = np.array([KIND_WEIGHTS[kind] for kind in kinds])
    kind = str(rng.choice(kinds, p=weights / weights.sum()))
    first = degradation_draw_strength(kind=kind, rng=rng)
    second = degradation_draw_strength(kind=kind, rng=rng)
    if kind == "quantise" and first == second:
        second = first + 2
    milder, harsher = (second, first) if _worse(kind, first, second) else (first, second)
    reference_lufs = loudness_lufs(samples=samples, sample_rate=sample_rate)
    seed = int(rng.integers(0, 2**31))
    # Same noise/filter draws for both copies, so that only the strength differs.
    mild_out, mild = degradation_apply(
        samples=samples, sample_rate=sample_rate, kind=kind, strength=milder, rng=np.random.default_rng(seed)
    )
    harsh_out, harsh = degradation_apply(
        samples=samples, sample_rate=sample_rate, kind=kind, strength=harsher, rng=np.random.default_rng(seed)
    )
    return (
        loudness_match(samples=mild_out, reference=samples, sample_rate=sample_rate, reference_lufs=reference_lufs),
        loudness_match(samples=harsh_out, reference=samples, sample_rate=sample_rate, reference_lufs=reference_lufs),
        mild,
        harsh,
    )


def recording_variation(*, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Harmless variety for the clean side: a gentle tilt EQ and a faint noise floor, as real
    recordings have, so that perfect digital silence is not what 'clean' means."""
    out = _as_float(samples)
    if rng.random() < 0.6:
        # First-order shelf-like tilt, at most a few dB across the band.
        cutoff = _log_uniform(rng, 500.0, 6000.0)
        b, a = signal.butter(1, cutoff, btype="highpass" if rng.random() < 0.5 else "lowpass", fs=sample_rate)
        shaped = signal.lfilter(b, a, out)
        mix = rng.uniform(0.0, 0.35)
        out = (1 - mix) * out + mix * shaped
    if rng.random() < 0.7:
        colour = str(rng.choice(["white", "pink"]))
        out = noise_add(samples=out, snr_db=float(rng.uniform(45.0, 80.0)), rng=rng, colour=colour).astype(
            np.float64
        )
    return out.astype(np.float32)


