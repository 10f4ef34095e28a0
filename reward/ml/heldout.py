"""Damage implementations that training never uses, for the real-recording test (reward/ml/realtest.py): other filters,
another MP3 bit-rate mode and rate, other noise generators, other clipping curves, another wobble shape and
interpolation, other dropouts. Training draws from reward/ml/degrade.py; a model that learnt one implementation's
fingerprint instead of the damage fails here. Do not import this module from training code."""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio
from scipy import interpolate, signal

from reward.ml.degrade import mp3_roundtrip


def _as_float(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, dtype=np.float64)


def _scaled_to_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    clean_power = max(float(np.mean(np.square(clean))), 1e-20)
    noise_power = max(float(np.mean(np.square(noise))), 1e-20)
    return clean + noise * math.sqrt(clean_power / 10 ** (snr_db / 10) / noise_power)


# Low-pass ---------------------------------------------------------------------------------------------------------


def lowpass_biquad(*, samples: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """torchaudio's second-order (RBJ cookbook) low-pass biquad, Q = 0.707."""
    waveform = torch.from_numpy(_as_float(samples)).unsqueeze(0)
    filtered = torchaudio.functional.lowpass_biquad(waveform, sample_rate, cutoff_hz, Q=0.707)
    return filtered.squeeze(0).numpy().astype(np.float32)


def lowpass_fft_brickwall(
    *, samples: np.ndarray, sample_rate: int, cutoff_hz: float, transition: float = 0.03
) -> np.ndarray:
    """Zero every FFT bin above the cutoff, with a raised-cosine roll-off over `transition` x cutoff below it: the
    steep, ringing band limit of a brick-wall encoder."""
    clean = _as_float(samples)
    spectrum = np.fft.rfft(clean)
    frequencies = np.fft.rfftfreq(clean.shape[0], 1.0 / sample_rate)
    start = cutoff_hz * (1.0 - transition)
    gain = np.clip((cutoff_hz - frequencies) / max(cutoff_hz - start, 1e-9), 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spectrum * gain, n=clean.shape[0]).astype(np.float32)


def lowpass_resample(*, samples: np.ndarray, sample_rate: int, low_rate: int) -> np.ndarray:
    """torchaudio's windowed-sinc resampling (Kaiser window) down to `low_rate` and back."""
    waveform = torch.from_numpy(_as_float(samples)).unsqueeze(0)
    down = torchaudio.functional.resample(waveform, sample_rate, low_rate, resampling_method="sinc_interp_kaiser")
    back = torchaudio.functional.resample(down, low_rate, sample_rate, resampling_method="sinc_interp_kaiser")
    out = np.zeros(samples.shape[0], dtype=np.float64)
    usable = min(out.shape[0], back.shape[-1])
    out[:usable] = back.squeeze(0).numpy()[:usable]
    return out.astype(np.float32)


# MP3 --------------------------------------------------------------------------------------------------------------


def mp3_constant(*, samples: np.ndarray, sample_rate: int, kbps: int) -> np.ndarray:
    """libsndfile's MP3 at a constant bit rate, encoded at the clip's own rate (training uses variable bit rate at
    other rates). At 24 kHz (MPEG-2) libsndfile's compression level maps linearly onto 160 .. 0 kbit/s."""
    level = 1.0 - kbps / 160.0
    return mp3_roundtrip(samples=samples, sample_rate=sample_rate, level=level, bitrate_mode="CONSTANT")


# Noise ------------------------------------------------------------------------------------------------------------


def noise_pink_kellet(*, length: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise by Paul Kellet's refined filter (white noise through seven one-pole sections), not by shaping an
    FFT as training does."""
    white = rng.standard_normal(length)
    poles = ((0.99886, 0.0555179), (0.99332, 0.0750759), (0.96900, 0.1538520), (0.86650, 0.3104856),
             (0.55000, 0.5329522), (-0.7616, -0.0168980))
    out = np.zeros(length)
    for pole, gain in poles:
        out += signal.lfilter([gain], [1.0, -pole], white)
    out += 0.5362 * white + 0.115926 * np.concatenate([[0.0], white[:-1]])
    return out


def noise_brown_leaky(*, length: int, rng: np.random.Generator) -> np.ndarray:
    """Brown noise by a leaky integrator of white noise (pole 0.995), with its mean removed."""
    brown = signal.lfilter([1.0], [1.0, -0.995], rng.standard_normal(length))
    return brown - brown.mean()


def mains_hum(*, length: int, sample_rate: int, mains_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: the mains frequency and its first seven harmonics (odd ones strongest), random phases, with a
    slow 2% level flutter."""
    seconds = np.arange(length) / sample_rate
    hum = np.zeros(length)
    for harmonic in range(1, 9):
        weight = (1.0 if harmonic % 2 else 0.5) / harmonic
        hum += weight * np.sin(2 * np.pi * mains_hz * harmonic * seconds + rng.uniform(0, 2 * np.pi))
    return hum * (1.0 + 0.02 * np.sin(2 * np.pi * 0.3 * seconds))


def noise_heldout(
    *, samples: np.ndarray, sample_rate: int, kind: str, snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """Add noise of `kind` ('pink-kellet', 'brown-leaky', 'hum-50', 'hum-60') `snr_db` below the clip's power."""
    clean = _as_float(samples)
    length = clean.shape[0]
    if kind == "pink-kellet":
        noise = noise_pink_kellet(length=length, rng=rng)
    elif kind == "brown-leaky":
        noise = noise_brown_leaky(length=length, rng=rng)
    elif kind in ("hum-50", "hum-60"):
        noise = mains_hum(length=length, sample_rate=sample_rate, mains_hz=float(kind[4:]), rng=rng)
    else:
        raise ValueError(f"unknown held-out noise {kind!r}")
    return _scaled_to_snr(clean, noise, snr_db).astype(np.float32)


# Clipping ---------------------------------------------------------------------------------------------------------


def _threshold(samples: np.ndarray, fraction: float) -> float:
    return max(float(np.quantile(np.abs(samples), 1.0 - fraction)), 1e-9)


def clip_arctan(*, samples: np.ndarray, fraction: float) -> np.ndarray:
    """Arctangent saturation scaled so that its knee sits where `fraction` of the samples lie above."""
    threshold = _threshold(samples, fraction)
    return (threshold * (2 / np.pi) * np.arctan(_as_float(samples) * (np.pi / 2) / threshold)).astype(np.float32)


def clip_cubic(*, samples: np.ndarray, fraction: float) -> np.ndarray:
    """The cubic soft clipper (x - x^3/3, flat beyond |x| = 1) of a guitar pedal, driven so that `fraction` of the
    samples reach the flat part."""
    threshold = _threshold(samples, fraction)
    x = np.clip(_as_float(samples) / threshold, -1.0, 1.0)
    return (threshold * 1.5 * (x - x**3 / 3)).astype(np.float32)


def clip_digital_overload(*, samples: np.ndarray, fraction: float) -> np.ndarray:
    """A digital overload: gain so that `fraction` of the samples pass full scale, written to 16-bit integers (which
    saturate), read back and the gain undone."""
    threshold = _threshold(samples, fraction)
    driven = _as_float(samples) / threshold * 32767.0
    integers = np.clip(np.round(driven), -32768, 32767).astype(np.int16)
    return (integers.astype(np.float64) / 32767.0 * threshold).astype(np.float32)


# Pitch wobble -----------------------------------------------------------------------------------------------------


def wobble_triangle_cubic(
    *, samples: np.ndarray, sample_rate: int, depth_cents: float, rate_hz: float, rng: np.random.Generator
) -> np.ndarray:
    """Wow with a triangle-wave speed (a warped record's rise and fall at constant slope), read out with a cubic
    spline instead of training's sinusoid and linear interpolation."""
    length = samples.shape[0]
    seconds = np.arange(length, dtype=np.float64) / sample_rate
    phase = rng.uniform(0, 1)
    cents = depth_cents * signal.sawtooth(2 * np.pi * (rate_hz * seconds + phase), width=0.5)
    speed = 2.0 ** (cents / 1200.0)
    position = np.clip(np.concatenate([[0.0], np.cumsum(speed[:-1])]), 0, length - 1)
    spline = interpolate.CubicSpline(np.arange(length), _as_float(samples))
    return spline(position).astype(np.float32)


# Dropouts ---------------------------------------------------------------------------------------------------------


def dropouts_stutter(
    *, samples: np.ndarray, sample_rate: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """A stuttering stream: 40-120 ms stretches replaced by a repeat of the block before them (what a player does
    when a buffer runs dry), about `fraction` of the clip in all."""
    out = _as_float(samples).copy()
    length = out.shape[0]
    missing = int(fraction * length)
    while missing > 0:
        gap = min(int(rng.uniform(0.04, 0.12) * sample_rate), missing)
        start = int(rng.integers(gap, max(length - gap, gap + 1)))
        out[start : start + gap] = out[start - gap : start][: out[start : start + gap].shape[0]]
        missing -= gap
    return out.astype(np.float32)


def dropouts_faded(
    *, samples: np.ndarray, sample_rate: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Gaps of 30-200 ms faded out and in over 5 ms (a concealing decoder), about `fraction` of the clip in all."""
    out = _as_float(samples).copy()
    length = out.shape[0]
    fade = max(int(0.005 * sample_rate), 1)
    missing = int(fraction * length)
    while missing > 0:
        gap = min(int(rng.uniform(0.03, 0.2) * sample_rate), missing)
        start = int(rng.integers(fade, max(length - gap - fade, fade + 1)))
        envelope = np.ones(gap + 2 * fade)
        envelope[:fade] = np.linspace(1, 0, fade)
        envelope[fade : fade + gap] = 0.0
        envelope[fade + gap :] = np.linspace(0, 1, fade)
        stretch = out[start - fade : start + gap + fade]
        out[start - fade : start + gap + fade] = stretch * envelope[: stretch.shape[0]]
        missing -= gap
    return out.astype(np.float32)
