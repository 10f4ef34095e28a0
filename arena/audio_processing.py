"""Processing of audio for delivery: loudness (ITU-R BS.1770-4, K-weighting with scipy), normalisation, resampling
and the encoded delivery copy.

It imports torch, so only Celery workers and management commands import it (the web processes never do: see the
"no-torch-on-the-web" import contract); the checks web code needs are in arena.audio.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import io
import threading
from dataclasses import dataclass

import numpy as np
import scipy.signal
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

# BS.1770-4 K-weighting from the analogue prototypes behind the standard's 48 kHz tables (a high shelf, then the
# RLB high-pass; the derivation libebur128 uses), so that it holds at any sample rate.
SHELF_HZ, SHELF_GAIN_DB, SHELF_Q, SHELF_VB_EXPONENT = 1681.974450955533, 3.999843853973347, 0.7071752369554196, \
    0.4996667741545416
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs
BLOCK_S, STEP_S = 0.4, 0.1  # gating blocks of 400 ms overlapping by 75 %
ABSOLUTE_GATE_LUFS, RELATIVE_GATE_LU = -70.0, -10.0


def k_weighting(sample_rate: int) -> np.ndarray:
    """The K-weighting filter at `sample_rate` as second-order sections (scipy's sos layout: b0 b1 b2 1 a1 a2)."""
    k = np.tan(np.pi * SHELF_HZ / sample_rate)
    vh = 10 ** (SHELF_GAIN_DB / 20)
    vb = vh**SHELF_VB_EXPONENT
    a0 = 1 + k / SHELF_Q + k * k
    shelf = [(vh + vb * k / SHELF_Q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / SHELF_Q + k * k) / a0,
             1.0, 2 * (k * k - 1) / a0, (1 - k / SHELF_Q + k * k) / a0]
    k = np.tan(np.pi * HIGHPASS_HZ / sample_rate)
    a0 = 1 + k / HIGHPASS_Q + k * k
    # The standard's high-pass numerator is 1, -2, 1 as it stands (not divided by a0).
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / HIGHPASS_Q + k * k) / a0]
    return np.array([shelf, highpass])


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, gated) of (frames, channels) audio; -inf when no block passes
    the absolute gate (silence).

    One K-weighting pass (scipy's sosfilt on contiguous channels, in float32 as torchaudio's was; the squares and
    their running sum in float64) and the blocks' mean squares from that sum, which is what makes it cheap enough to
    measure every clip more than once on import.
    """
    if samples.shape[1] > len(CHANNEL_WEIGHTS):
        raise AudioProblem("unsupported", f"loudness is defined for at most {len(CHANNEL_WEIGHTS)} channels")
    block, step = round(BLOCK_S * sample_rate), round(STEP_S * sample_rate)
    channels = np.ascontiguousarray(samples.T, dtype=np.float32)  # (channels, frames)
    if channels.shape[1] < block:  # shorter than one gating block: measured as that block, padded with silence
        channels = np.pad(channels, ((0, 0), (0, block - channels.shape[1])))
    weighted = scipy.signal.sosfilt(k_weighting(sample_rate).astype(np.float32), channels, axis=-1)
    running = np.zeros((channels.shape[0], channels.shape[1] + 1))
    np.cumsum(np.square(weighted, dtype=np.float64), axis=1, out=running[:, 1:])
    starts = np.arange(0, channels.shape[1] - block + 1, step)
    power = ((running[:, starts + block] - running[:, starts]) / block).T  # (blocks, channels) mean squares
    weights = np.asarray(CHANNEL_WEIGHTS[: channels.shape[0]])
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(power @ weights)
        kept = block_lufs > ABSOLUTE_GATE_LUFS
        if not np.any(kept):
            return float("-inf")
        relative_gate = -0.691 + 10 * np.log10(power[kept].mean(axis=0) @ weights) + RELATIVE_GATE_LU
        kept &= block_lufs > relative_gate
        return float(-0.691 + 10 * np.log10(power[kept].mean(axis=0) @ weights))


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
        measured_lufs = None
    if samples.shape[1] < DELIVERY_CHANNELS:
        copies = DELIVERY_CHANNELS // samples.shape[1]
        samples = np.repeat(samples, copies, axis=1)
        if measured_lufs is not None:  # BS.1770 sums the channels' power (weight 1 for L and R): known, not measured
            measured_lufs += 10 * float(np.log10(copies))
    if rate != DELIVERY_SAMPLE_RATE:
        measured_lufs = None
        resampled = AF.resample(torch.from_numpy(np.ascontiguousarray(samples.T)), rate, DELIVERY_SAMPLE_RATE)
        samples, rate = resampled.numpy().T.copy(), DELIVERY_SAMPLE_RATE
    normalised = normalise_loudness(samples, rate, target_lufs=target_lufs, measured_lufs=measured_lufs)
    data = constant_bitrate_stream(mp3_encode(normalised, rate, bitrate_kbps=bitrate_kbps), bitrate_kbps=bitrate_kbps)
    check, check_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return DeliveryCopy(data=data, lufs=integrated_loudness(check, check_rate),
                        frame_bytes=mp3_frame_bytes(bitrate_kbps))


# The MP3 encoder. LAME called directly (the system's libmp3lame, which the distribution's libsndfile depends on)
# encodes the same stream as libsndfile's bundled copy at the same quality several times faster (NOTES.md, issue 17);
# libsndfile is the fallback where the library is missing. Quality 3 is LAME's own default, which libsndfile keeps.
LAME_QUALITY = 3
_lame_first_use = threading.Lock()


@functools.cache
def lame_library() -> ctypes.CDLL | None:
    """The system's libmp3lame with the signatures used here, or None where there is none."""
    name = ctypes.util.find_library("mp3lame")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    handle, number = ctypes.c_void_p, ctypes.c_int
    lib.lame_init.restype = handle
    lib.lame_init.argtypes = []
    for setter in ("lame_set_in_samplerate", "lame_set_out_samplerate", "lame_set_num_channels", "lame_set_brate",
                   "lame_set_quality", "lame_set_VBR", "lame_set_bWriteVbrTag", "lame_set_write_id3tag_automatic"):
        getattr(lib, setter).argtypes = [handle, number]
    lib.lame_init_params.argtypes = [handle]
    lib.lame_close.argtypes = [handle]
    lib.lame_encode_buffer_interleaved_ieee_float.argtypes = [handle, ctypes.c_void_p, number, ctypes.c_void_p, number]
    lib.lame_encode_flush.argtypes = [handle, ctypes.c_void_p, number]
    with _lame_first_use:  # LAME fills shared tables on its first initialisation: once, before any thread races
        first = lib.lame_init()
        if not first or lib.lame_init_params(first) < 0:
            return None
        lib.lame_close(first)
    return lib


def mp3_encode(samples: np.ndarray, sample_rate: int, *, bitrate_kbps: int) -> bytes:
    """(frames, channels) float audio as constant-bitrate MPEG Layer III without tags: LAME directly when the system
    has it, else through libsndfile (the same encoder and settings, slower)."""
    lib = lame_library()
    if lib is None:
        buffer = io.BytesIO()
        # libsndfile sets a constant bitrate of 320 - 288 * level kbit/s (LAME rounds to the nearest legal one).
        level = (MAX_BITRATE_KBPS - bitrate_kbps) / (MAX_BITRATE_KBPS - MIN_BITRATE_KBPS)
        sf.write(buffer, samples, sample_rate, format="MP3", bitrate_mode="CONSTANT", compression_level=level)
        return buffer.getvalue()
    interleaved = np.ascontiguousarray(samples, dtype=np.float32)
    frames, channels = interleaved.shape
    encoder = lib.lame_init()
    if not encoder:
        raise AudioProblem("encoder", "the MP3 encoder could not start")
    try:
        for setter, value in (("in_samplerate", sample_rate), ("out_samplerate", sample_rate),
                              ("num_channels", channels), ("VBR", 0), ("brate", bitrate_kbps),
                              ("quality", LAME_QUALITY), ("bWriteVbrTag", 0), ("write_id3tag_automatic", 0)):
            getattr(lib, f"lame_set_{setter}")(encoder, value)
        if lib.lame_init_params(encoder) < 0:
            raise AudioProblem("encoder", f"the MP3 encoder refused {sample_rate} Hz, {channels} channels, "
                                          f"{bitrate_kbps} kbit/s")
        capacity = frames + frames // 4 + 7200  # LAME's bound: 1.25 × samples per channel + 7200 bytes
        out = ctypes.create_string_buffer(capacity)
        written = lib.lame_encode_buffer_interleaved_ieee_float(
            encoder, interleaved.ctypes.data, frames, out, capacity)
        if written < 0:
            raise AudioProblem("encoder", f"the MP3 encoder failed (LAME error {written})")
        tail = ctypes.create_string_buffer(7200)
        flushed = lib.lame_encode_flush(encoder, tail, 7200)
        if flushed < 0:
            raise AudioProblem("encoder", f"the MP3 encoder failed (LAME error {flushed})")
        return out.raw[:written] + tail.raw[:flushed]
    finally:
        lib.lame_close(encoder)
