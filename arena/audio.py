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
# Every delivery file: 48 kHz stereo MPEG-1 Layer III at one constant bitrate (settings.EARSHOT_DELIVERY_BITRATE_KBPS).
DELIVERY_SAMPLE_RATE = 48000
DELIVERY_CHANNELS = 2
MP3_FRAME_SAMPLES = 1152
DELIVERY_BITRATES_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)  # by index, from 1
MIN_BITRATE_KBPS, MAX_BITRATE_KBPS = DELIVERY_BITRATES_KBPS[0], DELIVERY_BITRATES_KBPS[-1]
MIN_SOURCE_RATE = 8000
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
    import torch
    import torchaudio.functional as AF

    if bitrate_kbps not in DELIVERY_BITRATES_KBPS:
        raise AudioProblem("unsupported", f"{bitrate_kbps} kbit/s is not an MPEG-1 Layer III bitrate")
    samples, rate = decoded.samples, decoded.sample_rate
    if rate < MIN_SOURCE_RATE:
        raise AudioProblem("unsupported", f"a sample rate of {rate} Hz is too low to deliver")
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


def mp3_frame_bytes(bitrate_kbps: int) -> int:
    """Bytes of one MPEG-1 Layer III frame at the delivery rate (48 kHz needs no padding slot at any bitrate)."""
    return 144 * bitrate_kbps * 1000 // DELIVERY_SAMPLE_RATE


def constant_bitrate_stream(data: bytes, *, bitrate_kbps: int) -> bytes:
    """The encoder's frames without its leading Info/Xing frame, after checking that every frame has the delivery
    layout: MPEG-1 Layer III, 48 kHz, `bitrate_kbps`, no padding slot, one channel mode, nothing around them."""
    size = mp3_frame_bytes(bitrate_kbps)
    if len(data) < size or len(data) % size:
        raise AudioProblem("encoder", f"the encoder wrote {len(data)} bytes, not whole {size}-byte frames")
    first = int.from_bytes(data[:4], "big")
    headers = np.frombuffer(data, dtype=">u4").reshape(-1, size // 4)[:, 0]  # frame sizes are multiples of 4
    expected = (
        (0x7FF << 21) | (3 << 19) | (1 << 17) | (1 << 16)  # sync, MPEG-1, Layer III, no CRC
        | (DELIVERY_BITRATES_KBPS.index(bitrate_kbps) + 1) << 12  # bitrate index
        | (1 << 10)  # 48 kHz, no padding slot, private bit clear
        | (first & (3 << 6))  # the first frame's channel mode, for all
    )
    layout_mask = 0xFFFFFFC0  # everything above the mode extension, copyright, original and emphasis bits
    if np.any((headers & layout_mask) != (expected & layout_mask)) or (first >> 6) & 3 == 3:
        raise AudioProblem("encoder", f"the encoder's frames are not all 48 kHz stereo {bitrate_kbps} kbit/s")
    if data[36:40] in (b"Xing", b"Info"):  # stereo side information ends 36 bytes into the frame
        data = data[size:]
    return data
