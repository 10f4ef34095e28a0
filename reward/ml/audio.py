"""Audio front-end of the bundled reward model: decode (soundfile), mono, resample, log-mel,
fixed-length training crops and the evenly spaced segments that inference averages over."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torchaudio

# A clip may arrive as a file on disk or as samples already in memory with their rate.
AudioSource = str | Path | tuple[np.ndarray, int]


@dataclass(frozen=True)
class FrontEndConfig:
    """Everything that turns a waveform into the network's input; stored in the checkpoint."""

    sample_rate: int = 24_000
    n_fft: int = 1024
    hop_length: int = 480
    n_mels: int = 64
    f_min: float = 20.0
    f_max: float = 12_000.0
    # Mel power is divided by its mean over each crop, so the floor sits this far below the
    # crop's average level: quieter detail counts as silence whatever the playback level.
    relative_floor: float = 1e-6
    crop_seconds: float = 2.0

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def crop_frames(self) -> int:
        return int(round(self.crop_seconds * self.frames_per_second))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FrontEndConfig:
        return cls(**values)


class AudioDecodeError(ValueError):
    """The file could not be read as audio."""


def audio_decode(*, path: str | Path) -> tuple[np.ndarray, int]:
    """Read a file as float32 samples shaped (frames, channels) and its sample rate."""
    try:
        samples, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioDecodeError(f"cannot decode {path}: {error}") from error
    return samples, int(sample_rate)


def audio_to_mono(*, samples: np.ndarray) -> np.ndarray:
    """Average the channels of (frames, channels) samples; 1-D input is returned as is."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        return array
    if array.ndim != 2:
        raise ValueError(f"expected (frames,) or (frames, channels) samples, got shape {array.shape}")
    return array.mean(axis=1, dtype=np.float32)


def audio_resample(*, mono: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample a 1-D waveform with torchaudio's band-limited sinc interpolation."""
    if orig_rate == new_rate:
        return mono
    return torchaudio.functional.resample(mono, orig_rate, new_rate)


def audio_load_mono(*, source: AudioSource, sample_rate: int) -> torch.Tensor:
    """Decode or take a clip, downmix it and bring it to the front-end's rate."""
    if isinstance(source, tuple):
        samples, rate = source
    else:
        samples, rate = audio_decode(path=source)
    mono = torch.from_numpy(np.ascontiguousarray(audio_to_mono(samples=samples)))
    return audio_resample(mono=mono, orig_rate=int(rate), new_rate=sample_rate)


@functools.lru_cache(maxsize=8)
def _mel_transform(config: FrontEndConfig) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        f_min=config.f_min,
        f_max=config.f_max,
        power=2.0,
    )


def mel_power(*, waveform: torch.Tensor, config: FrontEndConfig) -> torch.Tensor:
    """Mel power spectrogram, (n_mels, frames) for 1-D input or (batch, n_mels, frames)."""
    with torch.no_grad():
        return _mel_transform(config)(waveform.to(torch.float32))


def log_mel_normalise(*, power: torch.Tensor, config: FrontEndConfig) -> torch.Tensor:
    """Log of mel power relative to its own mean over the last two axes, so level is no cue."""
    mean = power.mean(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    # Scaled so that typical values lie within a few units of zero.
    return (torch.log(power / mean + config.relative_floor) + 5.0) / 5.0


def frames_tile_to(*, power: torch.Tensor, frames: int) -> torch.Tensor:
    """Repeat a spectrogram shorter than `frames` along time until it is that long."""
    have = power.shape[-1]
    if have >= frames:
        return power
    if have == 0:
        raise ValueError("empty spectrogram: the clip has no samples")
    repeats = -(-frames // have)
    return power.repeat(*([1] * (power.dim() - 1)), repeats)[..., :frames]


def crop_random(*, power: torch.Tensor, frames: int, generator: np.random.Generator) -> torch.Tensor:
    """A random `frames`-long window of a (n_mels, T) mel power spectrogram (tiled if too short)."""
    power = frames_tile_to(power=power, frames=frames)
    start = int(generator.integers(0, power.shape[-1] - frames + 1))
    return power[..., start : start + frames]


def segments_even(*, power: torch.Tensor, frames: int) -> torch.Tensor:
    """Cut (n_mels, T) into evenly spaced, possibly overlapping `frames`-long windows covering it.

    Returns (n_segments, n_mels, frames); scores of the segments are averaged for the clip.
    """
    power = frames_tile_to(power=power, frames=frames)
    total = power.shape[-1]
    count = -(-total // frames)
    starts = np.linspace(0, total - frames, count).round().astype(int) if count > 1 else np.array([0])
    return torch.stack([power[:, start : start + frames] for start in starts])


def clip_segments(*, source: AudioSource, config: FrontEndConfig) -> torch.Tensor:
    """Network input for one clip: (n_segments, 1, n_mels, crop_frames) normalised log-mel."""
    return mono_segments(mono=audio_load_mono(source=source, sample_rate=config.sample_rate), config=config)


def mono_segments(*, mono: torch.Tensor, config: FrontEndConfig) -> torch.Tensor:
    """clip_segments for a mono waveform already at config.sample_rate."""
    if mono.numel() == 0:
        raise AudioDecodeError("the clip has no samples")
    power = mel_power(waveform=mono, config=config)
    return log_mel_normalise(power=segments_even(power=power, frames=config.crop_frames), config=config).unsqueeze(1)
