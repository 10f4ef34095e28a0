"""Processing of audio for delivery: loudness (ITU-R BS.1770 via torchaudio), normalisation, resampling and the
encoded delivery copy.

It imports torch, so only Celery workers and management commands import it (the web processes never do: see the
"no-torch-on-the-web" import contract); the checks web code needs are in arena.audio.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from arena.audio import (
    DELIVERY_BITRATES_KBPS,
    DELIVERY_CHANNELS,
    DELIVERY_SAMPLE_RATE,
    MAX_BITRATE_KBPS,
    MIN_BITRATE_KBPS,
    AudioProblem,
    DecodedAudio,
    constant_bitrate_stream,
    delivery_check,
    mp3_frame_bytes,
)


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, gated) of (frames, channels) audio, via torchaudio."""
    waveform = torch.from_numpy(np.ascontiguousarray(samples.T, dtype=np.float32))
    min_frames = int(0.4 * sample_rate)  # one gating block
    if waveform.shape[1] < min_frames:
        waveform = torch.nn.functional.pad(waveform, (0, min_frames - waveform.shape[1]))
    return float(AF.loudness(waveform, sample_rate))


def _limit_peaks(samples: np.ndarray, ceiling: float) -> np.ndarray:
    """Soft-knee peak limiting above `ceiling`, applied only where the signal exceeds it."""
    magnitude = np.abs(samples)
    over = magnitude > ceiling
    if not np.any(over):
        return samples
    headroom = 1.0 - ceiling
    limited = samples.copy()
    excess = magnitude[over] - ceiling
    limited[over] = np.sign(samples[over]) * (ceiling + headroom * np.tanh(excess / headroom))
    return limited


def normalise_loudness(
    samples: np.ndarray, sample_rate: int, *, target_lufs: float, measured_lufs: float | None = None
) -> np.ndarray:
    """Gain to `target_lufs` with peaks kept under full scale.

    A plain gain lands exactly on the target, so loudness is measured again only when peak limiting changed the
    signal (each measurement costs a K-weighting pass over the whole clip).
    """
    measured = integrated_loudness(samples, sample_rate) if measured_lufs is None else measured_lufs
    out = samples
    for _ in range(3):
        if not np.isfinite(measured):
            raise AudioProblem("silent", "the audio has no measurable loudness")
        if abs(measured - target_lufs) < 0.05:
            break
        gained = out * np.float32(10 ** ((target_lufs - measured) / 20))
        out = _limit_peaks(gained, 0.95)
        if out is gained:
            break
        measured = integrated_loudness(out, sample_rate)
    return out.astype(np.float32)


@dataclass(frozen=True)
class DeliveryCopy:
    """The stored delivery file: a headerless constant-bitrate MP3 stream, every frame `frame_bytes` long."""

    data: bytes
    lufs: float
    frame_bytes: int


def delivery_copy(
    decoded: DecodedAudio, *, target_lufs: float, bitrate_kbps: int, measured_lufs: float | None = None
) -> DeliveryCopy:
    """Encode the loudness-normalised delivery file in the one layout every clip shares; measure its loudness.

    Every clip becomes 48 kHz stereo MPEG-1 Layer III at a constant `bitrate_kbps`, so its frames are all the same
    size (144 * bitrate / 48000 bytes, no padding slot) and its size says nothing but its duration. LAME's leading
    Info frame (its LAME tag holds a CRC of the music, the peak and a replay gain: a fingerprint of the clip) is
    dropped. `measured_lufs` is the loudness of `decoded` when the caller already measured it. Re-encoding from
    decoded samples carries no metadata tag of the original across.
    """
    if bitrate_kbps not in DELIVERY_BITRATES_KBPS:
        raise AudioProblem("unsupported", f"{bitrate_kbps} kbit/s is not an MPEG-1 Layer III bitrate")
    delivery_check(decoded)
    samples, rate = decoded.samples, decoded.sample_rate
    if samples.shape[1] > DELIVERY_CHANNELS:
        samples = samples.mean(axis=1, keepdims=True)
    if samples.shape[1] < DELIVERY_CHANNELS:
        samples = np.repeat(samples, DELIVERY_CHANNELS, axis=1)
    if samples.shape[1] != decoded.channels:
        measured_lufs = None  # BS.1770 sums the channels' power: the same signal on two channels is 3 LU louder
    if rate != DELIVERY_SAMPLE_RATE:
        measured_lufs = None
        resampled = AF.resample(torch.from_numpy(np.ascontiguousarray(samples.T)), rate, DELIVERY_SAMPLE_RATE)
        samples, rate = resampled.numpy().T.copy(), DELIVERY_SAMPLE_RATE
    normalised = normalise_loudness(samples, rate, target_lufs=target_lufs, measured_lufs=measured_lufs)
    buffer = io.BytesIO()
    # libsndfile sets a constant bitrate of 320 - 288 * level kbit/s (LAME rounds to the nearest legal one).
    level = (MAX_BITRATE_KBPS - bitrate_kbps) / (MAX_BITRATE_KBPS - MIN_BITRATE_KBPS)
    sf.write(buffer, normalised, rate, format="MP3", bitrate_mode="CONSTANT", compression_level=level)
    data = constant_bitrate_stream(buffer.getvalue(), bitrate_kbps=bitrate_kbps)
    check, check_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return DeliveryCopy(data=data, lufs=integrated_loudness(check, check_rate),
                        frame_bytes=mp3_frame_bytes(bitrate_kbps))
