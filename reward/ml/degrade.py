"""Degradations that make pseudo-preference pairs (a clip beats a damaged copy of itself): noise,
clipping, low-pass (Butterworth, Chebyshev, elliptic, polyphase resampling), MP3 (libsndfile, variable bit rate at
22.05 or 16 kHz), pitch wobble, dropouts and quantisation, drawn over wide strength ranges, sometimes chained, always
loudness-matched to the original so that level is no shortcut. Other implementations of the same damages are kept
out of training on purpose: reward/ml/heldout.py has them, for the real-recording test."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import soundfile
import torch
import torchaudio
from scipy import signal

# Kinds of damage and how often a draw picks each one.
# Kinds of damage and how often a draw picks each one, per mix: "synth" is the mix the synthesised-music stage 1 was
# built and its tests measured with (bundled-demo-v3); "real" (bundled-demo-v4, `make reward-model`) adds MP3,
# dropouts, a mains buzz and three more low-pass designs, for real recordings (issue 16).
DAMAGE_MIXES: dict[str, dict[str, float]] = {
    "synth": {"noise": 0.30, "clip": 0.26, "lowpass": 0.26, "wobble": 0.10, "quantise": 0.08},
    "real": {"noise": 0.24, "clip": 0.20, "lowpass": 0.26, "mp3": 0.10, "wobble": 0.10, "dropout": 0.05,
             "quantise": 0.05},
}
KIND_WEIGHTS = DAMAGE_MIXES["synth"]
# The low-pass implementations training draws from (reward/ml/heldout.py has the others).
LOWPASS_DESIGNS = ("butterworth", "chebyshev", "elliptic", "polyphase-resample")
# libsndfile's MP3 encoder in training: variable bit rate at these rates (the test encodes at constant bit rate).
MP3_TRAINING_RATES = (22_050, 16_000)
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


def noise_coloured(
    *, length: int, colour: str, rng: np.random.Generator, corner_fraction: float | None = None
) -> np.ndarray:
    """Unit-power noise whose spectrum falls (pink, brown) or rises (blue) with frequency. With `corner_fraction`
    (a share of the Nyquist frequency) the spectrum is flat below that corner: without one, brown noise of a 2 s
    crop puts nearly all its power below 10 Hz, under the hearing and the mel front end's 20 Hz."""
    white = rng.standard_normal(length)
    if colour == "white":
        shaped = white
    else:
        exponent = {"pink": -0.5, "brown": -1.0, "blue": 0.5}[colour]
        spectrum = np.fft.rfft(white)
        frequencies = np.arange(spectrum.shape[0], dtype=np.float64)
        frequencies[0] = 1.0
        if corner_fraction is not None:
            frequencies = np.maximum(frequencies, corner_fraction * (spectrum.shape[0] - 1))
        shaped = np.fft.irfft(spectrum * frequencies**exponent, n=length)
    return shaped / math.sqrt(max(_power(shaped), 1e-20))


def noise_add(
    *, samples: np.ndarray, snr_db: float, rng: np.random.Generator, colour: str = "white",
    corner_fraction: float | None = None,
) -> np.ndarray:
    """Add noise `snr_db` below the clip's mean power (`corner_fraction`: noise_coloured's)."""
    clean = _as_float(samples)
    noise = noise_coloured(length=clean.shape[0], colour=colour, rng=rng, corner_fraction=corner_fraction)
    scale = math.sqrt(max(_power(clean), 1e-20) / 10 ** (snr_db / 10))
    return (clean + scale * noise).astype(np.float32)


def buzz_add(
    *, samples: np.ndarray, sample_rate: int, snr_db: float, rng: np.random.Generator, rectifier: str = "full"
) -> np.ndarray:
    """Add an electrical buzz `snr_db` below the clip's power: a rectified sine of a mains-like frequency (45-65 Hz)
    through a gentle low-pass. Full-wave rectification leaves a ladder of even harmonics (its lowest partial is twice
    the mains frequency); half-wave keeps the mains frequency itself below that ladder."""
    if rectifier not in ("full", "half"):
        raise ValueError(f"unknown rectifier {rectifier!r}: 'full' or 'half'")
    clean = _as_float(samples)
    seconds = np.arange(clean.shape[0]) / sample_rate
    mains = rng.uniform(45.0, 65.0)
    wave = np.sin(2 * np.pi * mains * seconds + rng.uniform(0, 2 * np.pi))
    buzz = np.abs(wave) if rectifier == "full" else np.maximum(wave, 0.0)
    smoothing = signal.butter(2, rng.uniform(400.0, 3000.0), fs=sample_rate, output="sos")
    buzz = signal.sosfilt(smoothing, buzz - buzz.mean())
    scale = math.sqrt(max(_power(clean), 1e-20) / 10 ** (snr_db / 10) / max(_power(buzz), 1e-20))
    return (clean + scale * buzz).astype(np.float32)


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


def lowpass_design(
    *, samples: np.ndarray, sample_rate: int, cutoff_hz: float, design: str, order: int = 8
) -> np.ndarray:
    """A low-pass by one of LOWPASS_DESIGNS: scipy's Butterworth, Chebyshev type I (1 dB ripple) or elliptic (0.5 dB
    ripple, 60 dB stop band) sections, or polyphase resampling down to twice the cutoff and back (scipy)."""
    nyquist = sample_rate / 2
    if cutoff_hz >= nyquist * 0.98:
        return np.asarray(samples, dtype=np.float32)
    if design == "butterworth":
        return lowpass(samples=samples, sample_rate=sample_rate, cutoff_hz=cutoff_hz, order=order)
    if design == "chebyshev":
        sos = signal.cheby1(order, 1.0, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos")
    elif design == "elliptic":
        sos = signal.ellip(order, 0.5, 60.0, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos")
    elif design == "polyphase-resample":
        low_rate = max(int(round(2 * cutoff_hz / 50.0)) * 50, 100)
        common = math.gcd(low_rate, sample_rate)
        down = signal.resample_poly(_as_float(samples), low_rate // common, sample_rate // common)
        back = signal.resample_poly(down, sample_rate // common, low_rate // common)
        return back[: samples.shape[0]].astype(np.float32)
    else:
        raise ValueError(f"unknown low-pass design {design!r}")
    return signal.sosfilt(sos, _as_float(samples)).astype(np.float32)


def mp3_roundtrip(
    *, samples: np.ndarray, sample_rate: int, level: float, bitrate_mode: str, encode_rate: int | None = None
) -> np.ndarray:
    """Encode to MP3 with libsndfile (LAME) and decode again (mpg123), at `encode_rate` (resampled there and back,
    polyphase) with libsndfile's compression level (0 best .. 0.95 worst) and bit-rate mode (CONSTANT, VARIABLE,
    AVERAGE). The decoder's start delay is found by cross-correlation and removed, so the copy lines up."""
    rate = encode_rate or sample_rate
    mono = _as_float(samples)
    common = math.gcd(rate, sample_rate)
    encoded_input = mono if rate == sample_rate else signal.resample_poly(mono, rate // common, sample_rate // common)
    buffer = io.BytesIO()
    peak = max(float(np.max(np.abs(encoded_input))), 1e-9)
    scale = min(1.0, 0.99 / peak)  # the file is fixed-point: keep the peaks inside it
    soundfile.write(buffer, encoded_input * scale, rate, format="MP3", subtype="MPEG_LAYER_III",
                    compression_level=float(level), bitrate_mode=bitrate_mode)
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float64")
    decoded = np.asarray(decoded, dtype=np.float64) / scale
    # Line the decoded copy up with the input: the decoder keeps the encoder's start delay (about 1,100 samples).
    window = min(encoded_input.shape[0], rate)
    search = min(4096, max(decoded.shape[0] - window, 0))
    if search > 0:
        correlation = signal.correlate(decoded[: window + search], encoded_input[:window], mode="valid", method="fft")
        decoded = decoded[int(np.argmax(correlation)) :]
    if rate != sample_rate:
        decoded = signal.resample_poly(decoded, sample_rate // common, rate // common)
    out = np.zeros(samples.shape[0], dtype=np.float64)
    usable = min(out.shape[0], decoded.shape[0])
    out[:usable] = decoded[:usable]
    return out.astype(np.float32)


def dropouts(*, samples: np.ndarray, sample_rate: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Silence gaps of 20-150 ms (a buffer underrun or a lost packet) until about `fraction` of the clip is gone."""
    out = _as_float(samples).copy()
    length = out.shape[0]
    missing = int(fraction * length)
    while missing > 0 and length > 0:
        gap = min(int(rng.uniform(0.02, 0.15) * sample_rate), missing, length)
        start = int(rng.integers(0, max(length - gap, 1)))
        out[start : start + gap] = 0.0
        missing -= gap
    return out.astype(np.float32)


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
    if kind == "mp3":
        return float(rng.uniform(0.0, 0.95))
    if kind == "dropout":
        return _log_uniform(rng, 0.01, 0.2)
    raise ValueError(f"unknown degradation kind {kind!r}")


def _worse(kind: str, first: float, second: float) -> bool:
    """Whether strength `first` damages more than `second` for this kind."""
    if kind in ("noise", "lowpass", "quantise"):
        return first < second
    # clip, wobble, mp3 (compression level), dropout: more is worse
    return first > second


def degradation_apply(
    *, samples: np.ndarray, sample_rate: int, kind: str, strength: float, rng: np.random.Generator,
    mix: str = "synth",
) -> tuple[np.ndarray, Degradation]:
    """Apply one damage of a given strength (other details, like noise colour, drawn from rng)."""
    if kind == "noise":
        if mix == "real" and rng.random() < 0.15:
            out = buzz_add(samples=samples, sample_rate=sample_rate, snr_db=strength, rng=rng)
            return out, Degradation(kind, strength, f"mains buzz at {strength:.1f} dB SNR")
        colour = str(rng.choice(NOISE_COLOURS, p=[0.4, 0.3, 0.15, 0.15] if mix == "real" else [0.45, 0.3, 0.1, 0.15]))
        corner = None
        if mix == "real" and colour == "brown":  # audible rumble: flat below a corner of 15-80 Hz
            corner = _log_uniform(rng, 15.0, 80.0) / (sample_rate / 2)
        out = noise_add(samples=samples, snr_db=strength, rng=rng, colour=colour, corner_fraction=corner)
        how = f" flat below {corner * sample_rate / 2:.0f} Hz" if corner is not None else ""
        return out, Degradation(kind, strength, f"{colour} noise{how} at {strength:.1f} dB SNR")
    if kind == "clip":
        if rng.random() < 0.7:
            out, how = clip_hard(samples=samples, fraction=strength), "hard"
        else:
            out, how = clip_soft(samples=samples, fraction=strength), "soft"
        return out, Degradation(kind, strength, f"{how} clipping of {strength:.2%} of samples")
    if kind == "lowpass":
        if mix == "real":
            design = str(rng.choice(LOWPASS_DESIGNS, p=[0.4, 0.2, 0.2, 0.2]))
            order = int(rng.choice([2, 4, 6, 8, 12])) if design == "butterworth" else int(rng.integers(5, 9))
        else:
            design, order = "butterworth", int(rng.choice([2, 4, 6, 8, 12]))
        out = lowpass_design(samples=samples, sample_rate=sample_rate, cutoff_hz=strength, design=design, order=order)
        return out, Degradation(kind, strength, f"low-pass at {strength:.0f} Hz, {design} order {order}")
    if kind == "mp3":
        encode_rate = int(rng.choice(MP3_TRAINING_RATES))
        out = mp3_roundtrip(samples=samples, sample_rate=sample_rate, level=strength, bitrate_mode="VARIABLE",
                            encode_rate=encode_rate)
        return out, Degradation(kind, strength, f"MP3 (variable bit rate, level {strength:.2f}) at {encode_rate} Hz")
    if kind == "dropout":
        out = dropouts(samples=samples, sample_rate=sample_rate, fraction=strength, rng=rng)
        return out, Degradation(kind, strength, f"dropouts over {strength:.1%} of the clip")
    if kind == "wobble":
        rate = _log_uniform(rng, 0.3, 12.0)
        out = pitch_wobble(samples=samples, sample_rate=sample_rate, depth_cents=strength, rate_hz=rate, rng=rng)
        return out, Degradation(kind, strength, f"pitch wobble of {strength:.0f} cents at {rate:.1f} Hz")
    if kind == "quantise":
        out = quantise(samples=samples, bits=int(strength))
        return out, Degradation(kind, strength, f"quantised to {int(strength)} bits")
    raise ValueError(f"unknown degradation kind {kind!r}")


def degradation_random(
    *, samples: np.ndarray, sample_rate: int, rng: np.random.Generator, mix: str = "synth"
) -> tuple[np.ndarray, list[Degradation]]:
    """A random chain of one to three damages (mostly one), loudness-matched to the input."""
    count = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    kinds = list(DAMAGE_MIXES[mix])
    weights = np.array([DAMAGE_MIXES[mix][kind] for kind in kinds])
    chosen = rng.choice(kinds, size=count, replace=False, p=weights / weights.sum())
    out = np.asarray(samples, dtype=np.float32)
    applied: list[Degradation] = []
    for kind in chosen:
        strength = degradation_draw_strength(kind=str(kind), rng=rng)
        out, done = degradation_apply(samples=out, sample_rate=sample_rate, kind=str(kind), strength=strength, rng=rng,
                                      mix=mix)
        applied.append(done)
    return loudness_match(samples=out, reference=samples, sample_rate=sample_rate), applied


def degradation_graded_pair(
    *, samples: np.ndarray, sample_rate: int, rng: np.random.Generator, mix: str = "synth"
) -> tuple[np.ndarray, np.ndarray, Degradation, Degradation]:
    """Two copies damaged the same way at different strengths: (milder, harsher, how, how)."""
    kinds = list(DAMAGE_MIXES[mix])
    weights = np.array([DAMAGE_MIXES[mix][kind] for kind in kinds])
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
        samples=samples, sample_rate=sample_rate, kind=kind, strength=milder, rng=np.random.default_rng(seed), mix=mix
    )
    harsh_out, harsh = degradation_apply(
        samples=samples, sample_rate=sample_rate, kind=kind, strength=harsher, rng=np.random.default_rng(seed),
        mix=mix,
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


