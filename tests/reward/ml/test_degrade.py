"""Degradations for pseudo-preference pairs: each does what it says at the strength asked for,
draws span wide ranges and sometimes chain, and the damaged copy is as loud as the original."""

from __future__ import annotations

import numpy as np
import pytest

from reward.ml.degrade import (
    clip_hard,
    clip_soft,
    degradation_graded_pair,
    degradation_random,
    loudness_lufs,
    loudness_match,
    lowpass,
    noise_add,
    pitch_wobble,
    quantise,
)

RATE = 32_000


def _music(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * RATE)) / RATE
    freqs = (196, 294, 392, 587, 880)
    notes = sum(np.sin(2 * np.pi * f * time + rng.uniform(0, 6)) / k for k, f in enumerate(freqs, 1))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * time) ** 2
    return (0.25 * notes * envelope).astype(np.float32)


def _band_energy(samples: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.shape[0], 1 / RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0, 35.0])
@pytest.mark.parametrize("colour", ["white", "pink", "brown", "blue"])
def test_it_adds_noise_at_the_snr_asked_for(snr_db: float, colour: str) -> None:
    clean = _music()
    noisy = noise_add(samples=clean, snr_db=snr_db, rng=np.random.default_rng(1), colour=colour)
    noise = noisy.astype(np.float64) - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(measured - snr_db) < 0.1


def test_pink_noise_puts_more_of_its_power_in_the_lows_than_white() -> None:
    rng = np.random.default_rng(2)
    silence = np.zeros(RATE * 2, dtype=np.float32) + 1e-3
    white = noise_add(samples=silence, snr_db=-40, rng=rng, colour="white")
    pink = noise_add(samples=silence, snr_db=-40, rng=rng, colour="pink")
    assert _band_energy(pink, 20, 500) / _band_energy(pink, 4000, 16000) > 5 * (
        _band_energy(white, 20, 500) / _band_energy(white, 4000, 16000)
    )


def test_brown_noise_with_a_corner_is_audible_rumble_not_subsonic_drift() -> None:
    """Brown noise shaped over the whole FFT of a 2 s crop puts nearly all its power below 20 Hz, where neither a
    listener nor the mel front end hears it; flat below a corner of 40 Hz, most of it lies at 20-200 Hz."""
    rng = np.random.default_rng(3)
    silence = np.zeros(RATE * 2, dtype=np.float32) + 1e-3
    drift = noise_add(samples=silence, snr_db=-40, rng=rng, colour="brown")
    rumble = noise_add(samples=silence, snr_db=-40, rng=rng, colour="brown", corner_fraction=40.0 / (RATE / 2))

    def audible(x: np.ndarray) -> float:
        return _band_energy(x, 20, 200) / _band_energy(x, 0, RATE / 2)

    assert audible(drift) < 0.1 < 0.5 < audible(rumble)


@pytest.mark.parametrize("fraction", [0.02, 0.1])
def test_hard_clipping_flattens_the_fraction_of_samples_asked_for(fraction: float) -> None:
    clean = _music()
    clipped = clip_hard(samples=clean, fraction=fraction)
    at_ceiling = np.isclose(np.abs(clipped), np.abs(clipped).max())
    assert abs(at_ceiling.mean() - fraction) < 0.005


def test_soft_clipping_squashes_peaks_but_keeps_small_samples() -> None:
    clean = _music()
    soft = clip_soft(samples=clean, fraction=0.1)
    assert np.abs(soft).max() < np.abs(clean).max()
    small = np.abs(clean) < 0.02
    assert np.allclose(soft[small], clean[small], atol=1e-4)


@pytest.mark.parametrize("cutoff", [3000.0, 6000.0])
def test_the_low_pass_removes_what_lies_above_its_cutoff(cutoff: float) -> None:
    rng = np.random.default_rng(3)
    broadband = rng.standard_normal(RATE * 2).astype(np.float32)
    dull = lowpass(samples=broadband, sample_rate=RATE, cutoff_hz=cutoff, order=8)
    assert _band_energy(dull, cutoff * 1.5, RATE / 2) < 1e-3 * _band_energy(broadband, cutoff * 1.5, RATE / 2)
    assert _band_energy(dull, 100, cutoff * 0.5) > 0.9 * _band_energy(broadband, 100, cutoff * 0.5)


def test_pitch_wobble_keeps_the_length_and_moves_the_pitch() -> None:
    time = np.arange(RATE * 2) / RATE
    tone = np.sin(2 * np.pi * 1000 * time).astype(np.float32)
    wobbly = pitch_wobble(samples=tone, sample_rate=RATE, depth_cents=50, rate_hz=2.0, rng=np.random.default_rng(4))
    assert wobbly.shape == tone.shape
    # Energy leaves the 1 kHz bin for its neighbours (50 cents is about 30 Hz).
    assert _band_energy(wobbly, 995, 1005) < 0.5 * _band_energy(tone, 995, 1005)
    assert _band_energy(wobbly, 960, 1040) > 0.8 * _band_energy(tone, 960, 1040)


def test_quantising_leaves_only_a_few_levels() -> None:
    coarse = quantise(samples=_music(), bits=4)
    assert np.unique(np.round(coarse, 6)).shape[0] <= 2**4 + 1


def test_loudness_match_equalises_bs1770_loudness() -> None:
    clean = _music(seconds=3.0)
    dull = lowpass(samples=clean, sample_rate=RATE, cutoff_hz=400, order=4) * 0.1
    matched = loudness_match(samples=dull, reference=clean, sample_rate=RATE)
    assert abs(loudness_lufs(samples=matched, sample_rate=RATE) - loudness_lufs(samples=clean, sample_rate=RATE)) < 0.05


def test_loudness_match_falls_back_to_rms_for_very_short_clips() -> None:
    clean = _music(seconds=0.2)
    assert loudness_lufs(samples=clean, sample_rate=RATE) is None
    matched = loudness_match(samples=clean * 0.01, reference=clean, sample_rate=RATE)
    assert np.isclose(np.sqrt(np.mean(matched**2)), np.sqrt(np.mean(clean**2)), rtol=1e-4)


def test_random_degradations_span_every_kind_wide_strengths_and_chains() -> None:
    rng = np.random.default_rng(5)
    clean = _music(seconds=1.0)
    clean_lufs = loudness_lufs(samples=clean, sample_rate=RATE)
    kinds: set[str] = set()
    chain_lengths: list[int] = []
    noise_snrs: list[float] = []
    for _ in range(60):
        damaged, applied = degradation_random(samples=clean, sample_rate=RATE, rng=rng)
        assert damaged.shape == clean.shape
        assert abs(loudness_lufs(samples=damaged, sample_rate=RATE) - clean_lufs) < 0.1
        kinds.update(item.kind for item in applied)
        chain_lengths.append(len(applied))
        noise_snrs += [item.strength for item in applied if item.kind == "noise"]
    assert kinds == {"noise", "clip", "lowpass", "wobble", "quantise"}
    assert 1 in chain_lengths and max(chain_lengths) >= 2
    assert sum(length > 1 for length in chain_lengths) >= 10
    assert min(noise_snrs) < 5 and max(noise_snrs) > 30


def test_a_graded_pair_damages_the_milder_side_less() -> None:
    clean = _music(seconds=1.0)
    for seed in range(10):
        milder, harsher, mild, harsh = degradation_graded_pair(
            samples=clean, sample_rate=RATE, rng=np.random.default_rng(seed)
        )
        assert mild.kind == harsh.kind
        error_mild = np.mean((milder - clean) ** 2)
        error_harsh = np.mean((harsher - clean) ** 2)
        if mild.kind in ("noise", "clip", "quantise"):
            assert error_mild <= error_harsh + 1e-9


def test_the_real_recordings_mix_adds_mp3_dropouts_buzz_and_other_low_pass_designs() -> None:
    rng = np.random.default_rng(6)
    clean = _music(seconds=1.0)
    clean_lufs = loudness_lufs(samples=clean, sample_rate=RATE)
    descriptions: list[str] = []
    for _ in range(80):
        damaged, applied = degradation_random(samples=clean, sample_rate=RATE, rng=rng, mix="real")
        assert damaged.shape == clean.shape
        assert abs(loudness_lufs(samples=damaged, sample_rate=RATE) - clean_lufs) < 0.1
        descriptions += [item.description for item in applied]
    text = " | ".join(descriptions)
    for expected in ("MP3 (variable bit rate", "dropouts over", "mains buzz", "chebyshev", "elliptic",
                     "polyphase-resample", "brown noise flat below"):
        assert expected in text, expected
