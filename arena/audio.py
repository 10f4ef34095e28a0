"""Audio checks and the delivery layout: decode with soundfile, the delivery format's constants and MP3 frames.

No Django and no torch here: web processes import it (the delivery of clips, the admin's checks of an upload).
Loudness, resampling (torch) and encoding the delivery copy live in arena.audio_processing (workers and commands
only).
"""
from __future__ import annotations

import hashlib
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
# and BS.1770 loudness weighs at most 5 channels (L, R, C, Ls, Rs).
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


def delivery_check(decoded: DecodedAudio) -> None:
    """Raise AudioProblem where decoded audio cannot become a delivery copy (before any encoding is queued)."""
    if decoded.sample_rate < MIN_SOURCE_RATE:
        raise AudioProblem("unsupported", f"a sample rate of {decoded.sample_rate} Hz is too low to deliver")


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
