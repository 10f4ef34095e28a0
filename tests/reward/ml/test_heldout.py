"""The damage implementations held out of training (reward/ml/heldout.py) and the ones training added
(reward/ml/degrade.py: more low-pass designs, MP3, dropouts), each checked against what a library says, and the
real-recording test's conditions: every one is an implementation training never draws."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy import signal

from reward.ml import degrade, heldout, realtest, train

RATE = 24_000


def _music(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * RATE)) / RATE
    notes = sum(np.sin(2 * np.pi * f * time + rng.uniform(0, 6)) / k for k, f in enumerate((196, 294, 587, 1175), 1))
    return (0.25 * notes + 0.02 * rng.standard_normal(time.shape[0])).astype(np.float32)


def _slope(noise: np.ndarray, low: float, high: float) -> float:
    """Log-log slope of the power spectrum (scipy's Welch estimate) between `low` and `high` Hz."""
    frequencies, power = signal.welch(noise, fs=RATE, nperseg=8192)
    chosen = (frequencies >= low) & (frequencies <= high)
    return float(np.polyfit(np.log(frequencies[chosen]), np.log(power[chosen]), 1)[0])


def test_the_brickwall_matches_a_long_zero_phase_fir_and_leaves_nothing_above_its_cutoff() -> None:
    white = np.random.default_rng(1).standard_normal(RATE * 2)
    walled = heldout.lowpass_fft_brickwall(samples=white, sample_rate=RATE, cutoff_hz=3000)
    fir = signal.filtfilt(signal.firwin(2001, 3000 * 0.985, fs=RATE), 1.0, white)
    frequencies, walled_power = signal.welch(walled, fs=RATE, nperseg=2048)
    _, fir_power = signal.welch(fir, fs=RATE, nperseg=2048)
    passband = frequencies < 2700
    assert np.allclose(walled_power[passband], fir_power[passband], rtol=0.1)
    assert walled_power[frequencies > 3200].max() < 1e-6 * walled_power[passband].mean()


@pytest.mark.parametrize("low_rate", [8000, 11025, 16000])
def test_resampling_down_and_back_keeps_the_length_and_band_limits(low_rate: int) -> None:
    white = np.random.default_rng(2).standard_normal(RATE * 2)
    out = heldout.lowpass_resample(samples=white, sample_rate=RATE, low_rate=low_rate)
    frequencies, power = signal.welch(out, fs=RATE, nperseg=2048)
    assert out.shape == white.shape
    passband = power[frequencies < low_rate / 2 * 0.8].mean()
    assert power[frequencies > low_rate / 2 * 1.1].max() < 0.1 * passband
    assert power[frequencies > low_rate / 2 * 1.25].max() < 0.02 * passband


def test_the_biquad_is_torchaudios_rbj_filter() -> None:
    white = 0.1 * np.random.default_rng(3).standard_normal(RATE)  # torchaudio clamps its filters' output to ±1
    out = heldout.lowpass_biquad(samples=white, sample_rate=RATE, cutoff_hz=3000)
    # The RBJ cookbook low-pass with Q = 1/sqrt(2) is scipy's 2nd-order Butterworth via the bilinear transform.
    b, a = signal.butter(2, 3000, fs=RATE)
    expected = signal.lfilter(b, a, white)
    assert np.max(np.abs(out - expected)) < 1e-3 * np.max(np.abs(expected))


def test_kellet_pink_and_leaky_brown_noise_fall_as_they_should() -> None:
    rng = np.random.default_rng(4)
    assert -1.2 < _slope(heldout.noise_pink_kellet(length=RATE * 20, rng=rng), 50, 5000) < -0.8
    assert -2.2 < _slope(heldout.noise_brown_leaky(length=RATE * 20, rng=rng), 200, 5000) < -1.8


@pytest.mark.parametrize("kind", ["pink-kellet", "brown-leaky", "hum-50", "hum-60"])
def test_held_out_noise_is_added_at_the_snr_asked_for(kind: str) -> None:
    clean = _music()
    noisy = heldout.noise_heldout(samples=clean, sample_rate=RATE, kind=kind, snr_db=10, rng=np.random.default_rng(5))
    noise = noisy.astype(np.float64) - clean
    assert abs(10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2)) - 10) < 0.1


def test_mains_hum_sits_on_the_mains_frequency_and_its_harmonics() -> None:
    hum = heldout.mains_hum(length=RATE * 4, sample_rate=RATE, mains_hz=50, rng=np.random.default_rng(6))
    frequencies, power = signal.welch(hum, fs=RATE, nperseg=RATE)
    peaks = frequencies[signal.find_peaks(power, height=power.max() * 1e-3)[0]]
    assert {50, 100, 150, 200} <= {int(round(peak)) for peak in peaks}
    assert all(round(peak) % 50 == 0 for peak in peaks)


@pytest.mark.parametrize("fraction", [0.02, 0.1])
def test_the_held_out_clippers_bend_the_loudest_fraction(fraction: float) -> None:
    clean = _music()
    threshold = np.quantile(np.abs(clean), 1 - fraction)
    overload = heldout.clip_digital_overload(samples=clean, fraction=fraction)
    assert abs(np.isclose(np.abs(overload), np.abs(overload).max(), rtol=1e-3).mean() - fraction) < 0.005
    cubic = heldout.clip_cubic(samples=clean, fraction=fraction)
    assert abs(np.isclose(np.abs(cubic), threshold, rtol=1e-6).mean() - fraction) < 0.005
    arctan = heldout.clip_arctan(samples=clean, fraction=fraction)
    assert np.abs(arctan).max() < threshold
    order = np.argsort(clean)
    assert np.all(np.diff(arctan[order]) >= -1e-7) and np.all(np.diff(cubic[order]) >= -1e-7)


def test_the_triangle_wobble_moves_a_tone_by_the_depth_asked_for() -> None:
    time = np.arange(RATE * 4) / RATE
    tone = np.sin(2 * np.pi * 1000 * time)
    same = heldout.wobble_triangle_cubic(samples=tone, sample_rate=RATE, depth_cents=0, rate_hz=0.7,
                                         rng=np.random.default_rng(7))
    assert np.allclose(same, tone, atol=1e-6)
    wobbly = heldout.wobble_triangle_cubic(samples=tone, sample_rate=RATE, depth_cents=40, rate_hz=0.7,
                                           rng=np.random.default_rng(7))
    # Instantaneous frequency from scipy's analytic signal, away from the ends.
    phase = np.unwrap(np.angle(signal.hilbert(wobbly)))
    frequency = np.diff(phase)[RATE // 4 : -RATE // 4] * RATE / (2 * np.pi)
    smooth = np.convolve(frequency, np.ones(241) / 241, mode="valid")
    cents = 1200 * np.log2(smooth / 1000)
    assert 35 < cents.max() < 45 and -45 < cents.min() < -35


def test_mp3_comes_back_lined_up_and_as_long_as_it_went_in() -> None:
    clean = _music(seconds=4.0)
    for out in (heldout.mp3_constant(samples=clean, sample_rate=RATE, kbps=48),
                degrade.mp3_roundtrip(samples=clean, sample_rate=RATE, level=0.5, bitrate_mode="VARIABLE",
                                      encode_rate=16_000)):
        assert out.shape == clean.shape
        lags = signal.correlation_lags(out.shape[0], clean.shape[0])
        correlation = signal.correlate(out, clean, method="fft")
        assert abs(int(lags[np.argmax(correlation)])) <= 2
        assert np.corrcoef(out[RATE:-RATE], clean[RATE:-RATE])[0, 1] > 0.9


@pytest.mark.parametrize("damage", [heldout.dropouts_stutter, heldout.dropouts_faded])
def test_held_out_dropouts_change_about_the_share_asked_for(damage: object) -> None:
    clean = _music()
    out = damage(samples=clean, sample_rate=RATE, fraction=0.05, rng=np.random.default_rng(8))  # type: ignore[operator]
    assert 0.02 < np.mean(np.abs(out - clean) > 1e-6) < 0.08


@pytest.mark.parametrize("design", degrade.LOWPASS_DESIGNS)
def test_every_training_low_pass_design_removes_what_lies_above_its_cutoff(design: str) -> None:
    white = np.random.default_rng(9).standard_normal(RATE * 2)
    out = degrade.lowpass_design(samples=white, sample_rate=RATE, cutoff_hz=3000, design=design, order=8)
    frequencies, power = signal.welch(out, fs=RATE, nperseg=2048)
    assert power[frequencies > 4500].max() < 1e-2 * power[frequencies < 2000].mean()


def test_the_test_conditions_are_implementations_training_never_draws() -> None:
    held_out = {name for name, value in vars(heldout).items() if inspect.isfunction(value) and not name.startswith("_")
                and value.__module__ == heldout.__name__}
    # Training reaches degrade.py only; none of its code calls a held-out implementation.
    for module in (degrade, train):
        source = inspect.getsource(module)
        assert "import heldout" not in source and "heldout import" not in source
        assert not [name for name in held_out if name + "(" in source]
    assert "CONSTANT" not in inspect.getsource(degrade.degradation_apply)
    assert realtest.SAMPLE_RATE not in degrade.MP3_TRAINING_RATES
    implementations = {(condition.family, condition.implementation) for condition in realtest.CONDITIONS}
    assert {family for family, _ in implementations} == {
        "low-pass", "mp3", "noise", "clipping", "pitch wobble", "dropout"}
    assert len([1 for family, _ in implementations if family == "low-pass"]) == 3


def test_trainings_buzz_is_a_ladder_of_even_harmonics_at_the_snr_asked_for() -> None:
    clean = _music()
    out = degrade.buzz_add(samples=clean, sample_rate=RATE, snr_db=10, rng=np.random.default_rng(10))
    buzz = out.astype(np.float64) - clean
    assert abs(10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(buzz**2)) - 10) < 0.1
    frequencies, power = signal.welch(buzz, fs=RATE, nperseg=RATE)
    strongest = frequencies[np.argmax(power)]
    assert 90 <= strongest <= 130  # twice the mains frequency


def test_trainings_half_wave_buzz_keeps_the_mains_frequency_itself() -> None:
    clean = _music()
    rng = np.random.default_rng(10)
    out = degrade.buzz_add(samples=clean, sample_rate=RATE, snr_db=10, rng=rng, rectifier="half")
    buzz = out.astype(np.float64) - clean
    assert abs(10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(buzz**2)) - 10) < 0.1
    frequencies, power = signal.welch(buzz, fs=RATE, nperseg=RATE)
    assert 45 <= frequencies[np.argmax(power)] <= 65  # the mains frequency, not twice it
    with pytest.raises(ValueError, match="unknown rectifier 'square'"):
        degrade.buzz_add(samples=clean, sample_rate=RATE, snr_db=10, rng=rng, rectifier="square")
