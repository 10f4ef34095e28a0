"""Audio checks and the delivery copy: decode with soundfile, measure loudness (ITU-R BS.1770), normalise, re-encode.

No Django here. torch/torchaudio are imported only inside the functions that need them, so importing this module
stays cheap for web processes.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

DELIVERY_FORMATS = {"mp3": ("MP3", None, "audio/mpeg"), "flac": ("FLAC", "PCM_16", "audio/flac")}
MAX_DELIVERY_RATE = 48000
# Sources beyond these are refused before decoding: no music master needs a higher rate, each multiplies memory,
# and BS.1770 loudness as torchaudio measures it weighs at most 5 channels (it raised on 8).
MAX_SOURCE_RATE = 384000
MAX_SOURCE_CHANNELS = 5
DECODED_SAMPLE_BYTES = 4  # float32
SILENCE_PEAK = 1e-4  # about -80 dBFS: nothing a listener could hear


class AudioProblem(Exception):
    """The file is not usable audio; `code` says why in one word, the message in a sentence."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # (frames, channels) float32
    sample_rate: int
    format: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def decode(path: Path, *, max_seconds: float, max_decoded_bytes: int) -> DecodedAudio:
    """Decode the whole file or raise AudioProblem: not audio, undecodable, truncated, too long, silent.

    What the header declares is checked first, so a small compressed file cannot make the process decode (and hold)
    more than `max_decoded_bytes` of samples: rate × channels × frames × 4 bytes, and absurd rates or channel counts.
    """
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioProblem("not_audio", f"not a recognised audio file ({_short(exc)})") from exc
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioProblem("not_audio", "the file declares no sample rate or channels")
    if info.samplerate > MAX_SOURCE_RATE:
        raise AudioProblem(
            "unsupported", f"a sample rate of {info.samplerate} Hz is above the limit of {MAX_SOURCE_RATE} Hz"
        )
    if info.channels > MAX_SOURCE_CHANNELS:
        raise AudioProblem(
            "unsupported", f"{info.channels} channels are more than the limit of {MAX_SOURCE_CHANNELS}"
        )
    if info.frames <= 0:
        raise AudioProblem("undecodable", "the file declares no audio frames")
    if info.frames / info.samplerate > max_seconds:
        raise AudioProblem(
            "too_long", f"{info.frames / info.samplerate:.1f} s is longer than the limit of {max_seconds:g} s"
        )
    decoded_bytes = info.frames * info.channels * DECODED_SAMPLE_BYTES
    if decoded_bytes > max_decoded_bytes:
        raise AudioProblem(
            "too_large",
            f"{info.frames / info.samplerate:.1f} s at {info.samplerate} Hz in {info.channels} channels decodes to "
            f"{decoded_bytes / 1e6:.1f} MB, more than the limit of {max_decoded_bytes / 1e6:.1f} MB "
            "(EARSHOT_MAX_DECODED_BYTES)",
        )
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioProblem("undecodable", f"the audio could not be decoded ({_short(exc)})") from exc
    extra = info.extra_info
    if "(should be" in extra or "lacks an end-of-stream" in extra or (
        samples.shape[0] < 0.99 * info.frames
    ):
        raise AudioProblem("truncated", "the file is truncated: it holds less audio than its header declares")
    if samples.shape[0] == 0:
        raise AudioProblem("undecodable", "the file holds no audio frames")
    if not np.all(np.isfinite(samples)):
        raise AudioProblem("undecodable", "the decoded audio contains NaN or infinite samples")
    duration = samples.shape[0] / rate
    if duration > max_seconds:
        raise AudioProblem("too_long", f"{duration:.1f} s is longer than the limit of {max_seconds:g} s")
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise AudioProblem("silent", "the audio is silent")
    return DecodedAudio(samples=samples, sample_rate=int(rate), format=info.format)


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1][:200]


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, gated) of (frames, channels) audio, via torchaudio."""
    import torch
    import torchaudio.functional as AF

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


def delivery_copy(
    decoded: DecodedAudio, *, target_lufs: float, fmt: str = "mp3", measured_lufs: float | None = None
) -> tuple[bytes, float]:
    """Encode the loudness-normalised delivery file; returns its bytes and its measured loudness.

    `measured_lufs` is the loudness of `decoded` when the caller already measured it.

    Re-encoding from decoded samples carries no metadata tag of the original across.
    """
    import torch
    import torchaudio.functional as AF

    samples, rate = decoded.samples, decoded.sample_rate
    if samples.shape[1] > 2:
        samples = samples.mean(axis=1, keepdims=True)
        measured_lufs = None
    if rate > MAX_DELIVERY_RATE:
        measured_lufs = None
        resampled = AF.resample(torch.from_numpy(np.ascontiguousarray(samples.T)), rate, MAX_DELIVERY_RATE)
        samples, rate = resampled.numpy().T.copy(), MAX_DELIVERY_RATE
    if fmt == "mp3" and rate < 8000:
        raise AudioProblem("unsupported", f"a sample rate of {rate} Hz is too low to deliver")
    normalised = normalise_loudness(samples, rate, target_lufs=target_lufs, measured_lufs=measured_lufs)
    try:
        container, subtype, _ = DELIVERY_FORMATS[fmt]
    except KeyError as exc:
        raise AudioProblem("unsupported", f"unknown delivery format {fmt!r}") from exc
    buffer = io.BytesIO()
    sf.write(buffer, normalised, rate, format=container, subtype=subtype)
    data = buffer.getvalue()
    check, check_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return data, integrated_loudness(check, check_rate)


def content_type(fmt: str) -> str:
    return DELIVERY_FORMATS[fmt][2]
