"""The audio half of the ingest (arena.ingest.clip_import without storage and database), step by step, on one
thread: decode, loudness of the source, channel layout and resampling to the delivery rate, loudness there,
normalisation, the MP3 encode (through libsndfile, and with the system's LAME directly where the checkout has
arena.audio_processing.mp3_encode), its decode check and the check's loudness, then delivery_copy whole as the
ingest calls it. Clips are the demo synthesiser's (22.05 kHz stereo WAV, as the demo generator sends them).

Usage: python bench/bench_ingest.py [--seconds 5 10] [--repeats 5]
Run it from another checkout's root (cd /work/main && python /path/to/bench_ingest.py) to time that code instead.
A script, not a test: medians in ms, with the load average.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.getcwd())

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
import torchaudio.functional as AF  # noqa: E402

torch.set_num_threads(1)

from arena import audio, audio_processing  # noqa: E402
from demo.generator import render_wav  # noqa: E402

TARGET_LUFS, BITRATE = -16.0, 192


def timed(times: dict[str, list[float]], name: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    times.setdefault(name, []).append(1000 * (time.perf_counter() - started))
    return value


def one_pass(path: Path, times: dict[str, list[float]]) -> None:
    decoded = timed(times, "decode", lambda: audio.decode(path, max_seconds=600, max_decoded_bytes=1 << 32))
    source = timed(times, "loudness of the source",
                   lambda: audio_processing.integrated_loudness(decoded.samples, decoded.sample_rate))

    def layout() -> np.ndarray:
        samples = decoded.samples if decoded.channels == 2 else np.repeat(decoded.samples, 2, axis=1)
        waveform = torch.from_numpy(np.ascontiguousarray(samples.T))
        return AF.resample(waveform, decoded.sample_rate, 48000).numpy().T.copy()

    stereo = timed(times, "stereo, resample to 48 kHz", layout)
    measured = timed(times, "loudness at 48 kHz", lambda: audio_processing.integrated_loudness(stereo, 48000))
    normalised = timed(times, "normalise (gain, limiter)", lambda: audio_processing.normalise_loudness(
        stereo, 48000, target_lufs=TARGET_LUFS, measured_lufs=measured))
    buffer = io.BytesIO()
    level = (320 - BITRATE) / 288
    timed(times, "MP3 encode through libsndfile", lambda: sf.write(
        buffer, normalised, 48000, format="MP3", bitrate_mode="CONSTANT", compression_level=level))
    if hasattr(audio_processing, "mp3_encode") and audio_processing.lame_library() is not None:
        timed(times, "MP3 encode, the system's LAME", lambda: audio_processing.mp3_encode(
            normalised, 48000, bitrate_kbps=BITRATE))
    check = timed(times, "decode check", lambda: sf.read(io.BytesIO(buffer.getvalue()), dtype="float32",
                                                         always_2d=True))
    timed(times, "loudness of the check", lambda: audio_processing.integrated_loudness(check[0], check[1]))
    timed(times, "= delivery_copy as the ingest calls it", lambda: audio_processing.delivery_copy(
        decoded, target_lufs=TARGET_LUFS, bitrate_kbps=BITRATE, measured_lufs=source))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[5.0, 10.0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for seconds in args.seconds:
            path = Path(folder) / f"clip-{seconds:g}.wav"
            path.write_bytes(render_wav(profile_slug="aurora", text="a calm piano piece at 90 bpm",
                                        duration_s=seconds, bpm=90, seed=1, sample_rate=22050))
            times: dict[str, list[float]] = {}
            one_pass(path, {})  # warm-up
            for _ in range(args.repeats):
                one_pass(path, times)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"{seconds:g} s clip (22.05 kHz stereo WAV), {os.getcwd()}, one thread, median of "
                  f"{args.repeats}; load {load}")
            for name, values in times.items():
                print(f"  {name:<40} {statistics.median(values):7.1f} ms")


if __name__ == "__main__":
    main()
