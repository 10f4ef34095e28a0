"""The reward model's audio front-end: decoding, downmix, resampling, log-mel, crops and segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from reward.ml.audio import (
    AudioDecodeError,
    FrontEndConfig,
    audio_decode,
    audio_load_mono,
    audio_to_mono,
    clip_segments,
    crop_random,
    log_mel_normalise,
    mel_power,
    segments_even,
)

CONFIG = FrontEndConfig()


def _sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def test_it_decodes_a_stereo_file_as_frames_by_channels(tmp_path: Path) -> None:
    stereo = np.stack([_sine(440, 1.0, 48_000), _sine(660, 1.0, 48_000)], axis=1)
    path = tmp_path / "clip.wav"
    soundfile.write(path, stereo, 48_000)
    samples, rate = audio_decode(path=path)
    assert rate == 48_000
    assert samples.shape == (48_000, 2)
    assert samples.dtype == np.float32


def test_it_refuses_a_file_that_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all")
    with pytest.raises(AudioDecodeError, match="notes.wav"):
        audio_decode(path=path)


def test_it_downmixes_by_averaging_channels() -> None:
    stereo = np.array([[1.0, 0.0], [0.5, -0.5]], dtype=np.float32)
    assert np.allclose(audio_to_mono(samples=stereo), [0.5, 0.0])


def test_it_resamples_to_the_front_end_rate() -> None:
    mono = audio_load_mono(source=(_sine(1000, 2.0, 48_000), 48_000), sample_rate=CONFIG.sample_rate)
    assert mono.shape == (2 * CONFIG.sample_rate,)
    mono = audio_load_mono(source=(_sine(1000, 2.0, 22_050), 22_050), sample_rate=CONFIG.sample_rate)
    assert abs(mono.shape[0] - 2 * CONFIG.sample_rate) <= 1


def test_a_1khz_sine_at_48khz_peaks_in_the_mel_band_around_1khz() -> None:
    segments = clip_segments(source=(_sine(1000, 3.0, 48_000), 48_000), config=CONFIG)
    assert segments.shape[1:] == (1, CONFIG.n_mels, CONFIG.crop_frames)
    profile = segments[:, 0].mean(dim=(0, 2))
    peak = int(profile.argmax())
    # Triangular mel band i spans edges[i]..edges[i + 2] (HTK mel scale, torchaudio's default).
    low, high = (2595 * np.log10(1 + f / 700) for f in (CONFIG.f_min, CONFIG.f_max))
    mels = np.linspace(low, high, CONFIG.n_mels + 2)
    edges = 700 * (10 ** (mels / 2595) - 1)
    assert edges[peak] < 1000 < edges[peak + 2]
    # The tone dominates: far above what the front-end sees an octave up.
    octave_up = int(np.searchsorted(edges, 2000))
    assert float(profile[peak] - profile[octave_up]) > 2.0


def test_it_cuts_a_long_clip_into_segments_that_cover_it() -> None:
    segments = clip_segments(source=(_sine(440, 10.0, 44_100), 44_100), config=CONFIG)
    frames = 1 + 10 * CONFIG.sample_rate // CONFIG.hop_length
    assert segments.shape[0] == -(-frames // CONFIG.crop_frames)
    assert segments.shape[1:] == (1, CONFIG.n_mels, CONFIG.crop_frames)


def test_it_tiles_a_clip_shorter_than_one_crop() -> None:
    segments = clip_segments(source=(_sine(440, 0.3, 44_100), 44_100), config=CONFIG)
    assert segments.shape == (1, 1, CONFIG.n_mels, CONFIG.crop_frames)


def test_segments_start_at_the_beginning_and_end_at_the_end() -> None:
    power = torch.arange(250, dtype=torch.float32).expand(4, 250)
    segments = segments_even(power=power, frames=100)
    assert segments.shape == (3, 4, 100)
    assert float(segments[0, 0, 0]) == 0.0
    assert float(segments[-1, 0, -1]) == 249.0


def test_random_crops_have_the_crop_length() -> None:
    power = torch.rand(CONFIG.n_mels, 300)
    crop = crop_random(power=power, frames=CONFIG.crop_frames, generator=np.random.default_rng(0))
    assert crop.shape == (CONFIG.n_mels, CONFIG.crop_frames)


def test_the_log_mel_ignores_playback_level() -> None:
    rng = np.random.default_rng(1)
    noise = torch.from_numpy(rng.standard_normal(CONFIG.sample_rate).astype(np.float32)) * 0.1
    quiet = log_mel_normalise(power=mel_power(waveform=noise * 0.01, config=CONFIG), config=CONFIG)
    loud = log_mel_normalise(power=mel_power(waveform=noise, config=CONFIG), config=CONFIG)
    assert torch.allclose(quiet, loud, atol=1e-3)


def test_it_reads_a_file_and_an_array_alike(tmp_path: Path) -> None:
    samples = np.stack([_sine(300, 2.5, 44_100), _sine(500, 2.5, 44_100)], axis=1)
    path = tmp_path / "clip.flac"
    soundfile.write(path, samples, 44_100, subtype="PCM_24")
    from_file = clip_segments(source=path, config=CONFIG)
    from_array = clip_segments(source=(samples, 44_100), config=CONFIG)
    assert torch.allclose(from_file, from_array, atol=1e-3)
