"""Tests for the demo music synthesiser and its degradations (pure numpy; no database)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import signal

from demo import synth
from demo.synth import MusicSpec

SR = 22050


def _mono(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=1) if x.ndim == 2 else x


def _tempo_estimate(x: np.ndarray, sr: int) -> float:
    """Tempo from the autocorrelation of a spectral-flux onset envelope, searched over 50-200 BPM."""
    hop = 256
    _, _, stft = signal.stft(_mono(x), fs=sr, nperseg=1024, noverlap=1024 - hop)
    log_mag = np.log1p(100.0 * np.abs(stft))
    flux = np.maximum(np.diff(log_mag, axis=1), 0.0).sum(axis=0)
    flux -= flux.mean()
    autocorrelation = np.correlate(flux, flux, mode="full")[len(flux) - 1 :]
    frame_rate = sr / hop
    lags = np.arange(int(frame_rate * 60 / 200), int(frame_rate * 60 / 50) + 1)
    best = lags[np.argmax(autocorrelation[lags])]
    return 60.0 * frame_rate / best


def _chroma(x: np.ndarray, sr: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(_mono(x))) ** 2
    freqs = np.fft.rfftfreq(len(_mono(x)), 1.0 / sr)
    band = (freqs > 100) & (freqs < 2000)
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    return np.bincount(pitch_class, weights=spectrum[band], minlength=12)


def _spec(**changes: object) -> MusicSpec:
    base = MusicSpec(tempo_bpm=100, mode="major", key=0, instrument="piano", mood="calm", duration_s=4.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_it_renders_identical_samples_for_the_same_seed() -> None:
    spec = _spec(instrument="plucked guitar", with_drums=True, reverb_amount=0.5)
    first = synth.render(spec, sample_rate=SR, seed=7)
    again = synth.render(spec, sample_rate=SR, seed=7)
    other = synth.render(spec, sample_rate=SR, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_it_renders_stereo_float32_within_unit_range_for_every_instrument_and_mood() -> None:
    for index, (instrument, mood) in enumerate(zip(synth.INSTRUMENTS, synth.MOODS * 2, strict=False)):
        spec = _spec(instrument=instrument, mood=mood, with_drums=index % 2 == 0, duration_s=2.5, stereo_width=1.5)
        audio = synth.render(spec, sample_rate=SR, seed=index)
        assert audio.shape == (int(round(2.5 * SR)), 2)
        assert audio.dtype == np.float32
        assert np.all(np.isfinite(audio))
        assert np.max(np.abs(audio)) <= 1.0
        # Not silence: mastered to roughly -15 dBFS RMS.
        assert np.sqrt(np.mean(audio**2)) > 0.05, (instrument, mood)


def test_random_spec_is_deterministic_and_spans_the_vocabulary() -> None:
    first = [synth.random_spec(np.random.default_rng(3)) for _ in range(2)]
    assert first[0] == first[1]
    rng = np.random.default_rng(0)
    specs = [synth.random_spec(rng) for _ in range(400)]
    assert {s.instrument for s in specs} == set(synth.INSTRUMENTS)
    assert {s.mood for s in specs} == set(synth.MOODS)
    assert {s.mode for s in specs} == {"major", "minor"}
    assert len({s.key for s in specs}) == 12
    tempi = [s.tempo_bpm for s in specs]
    assert min(tempi) <= 65 and max(tempi) >= 170
    assert all(8.0 <= s.duration_s <= 12.0 for s in specs)
    assert all(s.with_drums for s in specs if s.instrument == "bass + drums")
    assert synth.random_spec(rng, duration_s=3.0).duration_s == 3.0


def test_the_prompt_names_mood_instrument_key_mode_and_tempo() -> None:
    spec = _spec(mood="calm", instrument="piano", key=9, mode="minor", tempo_bpm=72)
    assert synth.spec_prompt_text(spec) == "A calm piano piece in A minor at 72 BPM"
    drums = _spec(mood="energetic", instrument="organ", key=3, mode="major", tempo_bpm=140, with_drums=True)
    assert synth.spec_prompt_text(drums) == "An energetic organ piece in Eb major at 140 BPM, with drums"


@pytest.mark.parametrize("tempo", [80, 140])
def test_the_rendered_tempo_is_recoverable_from_onsets(tempo: int) -> None:
    spec = _spec(tempo_bpm=tempo, instrument="piano", mood="happy", with_drums=True, duration_s=8.0, reverb_amount=0.1)
    estimate = _tempo_estimate(synth.render(spec, sample_rate=SR, seed=1), SR)
    # Onset autocorrelation cannot tell a tempo from its double or half; anything else is wrong.
    assert min(abs(estimate / (tempo * factor) - 1.0) for factor in (0.5, 1.0, 2.0)) < 0.06, estimate


@pytest.mark.parametrize("key", [0, 9])
def test_major_and_minor_renders_differ_in_their_third(key: int) -> None:
    major = _chroma(synth.render(_spec(key=key, mode="major", duration_s=6.0), sample_rate=SR, seed=2), SR)
    minor = _chroma(synth.render(_spec(key=key, mode="minor", duration_s=6.0), sample_rate=SR, seed=2), SR)
    major_third, minor_third = (key + 4) % 12, (key + 3) % 12
    assert major[major_third] > 3 * major[minor_third]
    assert minor[minor_third] > 3 * minor[major_third]


def test_instruments_have_distinct_spectra() -> None:
    def centroid(instrument: str) -> float:
        audio = _mono(
            synth.render(_spec(instrument=instrument, duration_s=3.0, eq_tilt_db=0.0), sample_rate=SR, seed=4)
        )
        power = np.abs(np.fft.rfft(audio)) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1.0 / SR)
        return float(np.sum(freqs * power) / np.sum(power))

    assert centroid("bells") > 1.5 * centroid("flute")
    assert centroid("organ") > centroid("bass + drums")


def _test_tone(seconds: float = 3.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(0)
    music = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([music, 0.8 * music], axis=1).astype(np.float32)


@pytest.mark.parametrize("snr_db", [0.0, 12.0, 30.0])
def test_add_noise_hits_the_requested_snr(snr_db: float) -> None:
    clean = synth.render(_spec(duration_s=2.0), sample_rate=SR, seed=5)
    noisy = synth.add_noise(clean, snr_db, np.random.default_rng(1))
    noise = noisy.astype(np.float64) - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(measured - snr_db) < 1.0
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.2])
def test_hard_clip_flattens_the_requested_fraction_of_samples(fraction: float) -> None:
    clean = synth.render(_spec(duration_s=2.0, with_drums=True), sample_rate=SR, seed=6)
    clipped = synth.hard_clip(clean, fraction)
    peak = np.max(np.abs(clipped))
    flattened = np.mean(np.abs(clipped) >= peak * (1 - 1e-6))
    assert abs(flattened - fraction) < 0.1 * fraction + 1e-3
    assert peak == pytest.approx(np.max(np.abs(clean)), rel=1e-5)


def test_hard_clip_refuses_a_fraction_of_one() -> None:
    with pytest.raises(ValueError, match="fraction"):
        synth.hard_clip(_test_tone(), 1.0)


@pytest.mark.parametrize("cutoff_hz", [2000.0, 5000.0])
def test_band_limit_removes_the_energy_above_the_cutoff(cutoff_hz: float) -> None:
    clean = synth.render(_spec(duration_s=2.0, with_drums=True, instrument="bells"), sample_rate=SR, seed=3)
    limited = synth.band_limit(clean, cutoff_hz, SR)
    freqs = np.fft.rfftfreq(len(clean), 1.0 / SR)
    before = np.abs(np.fft.rfft(clean, axis=0)) ** 2
    after = np.abs(np.fft.rfft(limited, axis=0)) ** 2
    above = freqs >= cutoff_hz
    assert before[above].sum() > 1e-3 * before.sum()
    assert after[above].sum() < 1e-8 * after.sum()
    passband = freqs < 0.9 * cutoff_hz
    assert after[passband].sum() == pytest.approx(before[passband].sum(), rel=1e-3)


@pytest.mark.parametrize("cents", [15.0, 40.0])
def test_detune_wobbles_the_pitch_by_the_requested_cents(cents: float) -> None:
    tone = np.sin(2 * np.pi * 440.0 * np.arange(4 * SR) / SR).astype(np.float32)
    wobbled = synth.detune(tone, cents, SR, wobble_hz=1.0)
    assert wobbled.shape == tone.shape
    phase = np.unwrap(np.angle(signal.hilbert(wobbled.astype(np.float64))))
    frequency = np.diff(phase) * SR / (2 * np.pi)
    # Drop the edges, where the analytic signal and the clamped read position are unreliable; smooth sample jitter.
    inner = np.convolve(frequency[SR // 4 : -SR // 4], np.ones(256) / 256, mode="valid")
    deviation = 1200 * np.log2(inner / 440.0)
    assert deviation.max() == pytest.approx(cents, rel=0.1)
    assert deviation.min() == pytest.approx(-cents, rel=0.1)
    assert abs(np.mean(deviation)) < 0.1 * cents


def test_degradations_keep_stereo_shape_and_dtype() -> None:
    clean = _test_tone()
    rng = np.random.default_rng(2)
    for degraded in (
        synth.add_noise(clean, 10.0, rng),
        synth.hard_clip(clean, 0.05),
        synth.band_limit(clean, 3000.0, SR),
        synth.detune(clean, 20.0, SR),
    ):
        assert degraded.shape == clean.shape
        assert degraded.dtype == np.float32


def test_it_refuses_a_spec_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="instrument"):
        _spec(instrument="kazoo")
    with pytest.raises(ValueError, match="mode"):
        _spec(mode="dorian")
    with pytest.raises(ValueError, match="tempo"):
        _spec(tempo_bpm=400)


def test_demo_systems_carry_a_strict_expected_ranking() -> None:
    systems = synth.DEMO_SYSTEMS
    assert len(systems) >= 6
    assert len({s.slug for s in systems}) == len(systems)
    strengths = [s.true_strength for s in systems]
    assert strengths == sorted(strengths, reverse=True)
    assert len(set(strengths)) == len(strengths)
    assert all(0.0 <= s.prompt_fidelity <= 1.0 for s in systems)


def test_a_faithful_system_renders_the_prompt_and_an_unfaithful_one_mostly_does_not() -> None:
    faithful = dataclasses.replace(synth.DEMO_SYSTEMS[0], prompt_fidelity=1.0)
    wanderer = next(s for s in synth.DEMO_SYSTEMS if s.slug == "wanderer")
    rng = np.random.default_rng(9)
    spec = _spec(mood="dark", instrument="organ", mode="minor", tempo_bpm=90)
    assert all(synth.system_spec(faithful, spec, rng) == spec for _ in range(50))
    followed = [synth.system_spec(wanderer, spec, rng) == spec for _ in range(400)]
    # Each of four attributes follows with probability 0.35: all four together about 1.5% of the time.
    assert np.mean(followed) < 0.05


def test_render_system_clip_is_deterministic_and_applies_the_profile() -> None:
    crunchbox = next(s for s in synth.DEMO_SYSTEMS if s.slug == "crunchbox")
    assert crunchbox.cutoff_hz is not None
    spec = _spec(duration_s=2.0, with_drums=True)
    first = synth.render_system_clip(crunchbox, spec, sample_rate=SR, seed=11)
    np.testing.assert_array_equal(first, synth.render_system_clip(crunchbox, spec, sample_rate=SR, seed=11))
    assert first.shape == (2 * SR, 2) and first.dtype == np.float32
    assert np.max(np.abs(first)) <= 1.0
    freqs = np.fft.rfftfreq(len(first), 1.0 / SR)
    power = np.abs(np.fft.rfft(first, axis=0)) ** 2
    # White noise is added after the band limit, so the top band holds noise only: the noisy system is not silent there.
    assert power[freqs > crunchbox.cutoff_hz].sum() > 1e-3 * power.sum()
