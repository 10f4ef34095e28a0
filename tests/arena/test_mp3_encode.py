"""The delivery copy's MP3 encode: LAME called directly (the system's libmp3lame) and through libsndfile (the
fallback where the library is missing) give the same delivery layout, the same length and the same music."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from arena import audio_processing
from arena.audio import DecodedAudio, constant_bitrate_stream, mp3_frame_bytes


def music(seconds: float = 3.0, rate: int = 48000) -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(round(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-(t % 0.5) * 4)
    right = 0.2 * np.sin(2 * np.pi * 660 * t) + 0.01 * rng.normal(size=t.size)
    return np.stack([left, right], axis=1).astype(np.float32)


def decoded(data: bytes) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert rate == 48000
    return samples


@pytest.fixture
def without_lame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_processing, "lame_library", lambda: None)


def test_the_system_has_lame_for_the_fast_path() -> None:
    """The distribution's libsndfile depends on libmp3lame (docker/Dockerfile installs it): the fast path is the one
    deployments take."""
    assert audio_processing.lame_library() is not None


@pytest.mark.parametrize("bitrate", [128, 192, 320])
def test_both_encoders_give_the_delivery_layout_and_the_same_music(bitrate: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    samples = music()
    direct = constant_bitrate_stream(audio_processing.mp3_encode(samples, 48000, bitrate_kbps=bitrate),
                                     bitrate_kbps=bitrate)
    monkeypatch.setattr(audio_processing, "lame_library", lambda: None)
    fallback = constant_bitrate_stream(audio_processing.mp3_encode(samples, 48000, bitrate_kbps=bitrate),
                                       bitrate_kbps=bitrate)
    assert len(direct) == len(fallback) and len(direct) % mp3_frame_bytes(bitrate) == 0
    ours, theirs = decoded(direct), decoded(fallback)
    assert ours.shape == theirs.shape
    # Two builds of one encoder: the same music, at most coding noise apart (at 320 kbit/s, the same samples).
    noise = float(np.mean((ours - theirs) ** 2))
    assert noise == 0 or 10 * np.log10(float(np.mean(ours**2)) / noise) > 20
    assert audio_processing.integrated_loudness(ours, 48000) == pytest.approx(
        audio_processing.integrated_loudness(theirs, 48000), abs=0.1)


def test_the_delivery_copy_is_made_without_lame_too(without_lame: None) -> None:
    copy = audio_processing.delivery_copy(DecodedAudio(samples=music(rate=44100), sample_rate=44100, format="WAV"),
                                          target_lufs=-16.0, bitrate_kbps=192)
    assert len(copy.data) % copy.frame_bytes == 0 and abs(copy.lufs - -16.0) < 0.5
    assert not copy.data.startswith(b"ID3") and b"LAME" not in copy.data[:mp3_frame_bytes(192)]
