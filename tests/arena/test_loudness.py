"""arena.audio_processing.integrated_loudness (ITU-R BS.1770-4 with scipy): the standard's filter tables, the EBU
Tech 3341 reference cases, and agreement with torchaudio's implementation, each within the tolerance the standard
gives a meter (±0.1 LU), not a tolerance fitted to a machine."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from arena.audio_processing import integrated_loudness, k_weighting

METER_TOLERANCE_LU = 0.1  # EBU Tech 3341: integrated loudness of its test signals within ±0.1 LU


def tone(level_dbfs: float, seconds: float, rate: int, hz: float = 1000.0) -> np.ndarray:
    """A sine at `level_dbfs` (peak) on both channels of a stereo signal, as EBU Tech 3341's cases are."""
    t = np.arange(round(seconds * rate)) / rate
    wave = 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * hz * t)
    return np.stack([wave, wave], axis=1).astype(np.float32)


def test_the_k_weighting_at_48_khz_is_the_standards_table() -> None:
    shelf = [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585]
    highpass = [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621]
    assert np.allclose(k_weighting(48000), [shelf, highpass], atol=1e-8)


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([(-23.0, 20.0)], -23.0),  # case 1
        ([(-33.0, 20.0)], -33.0),  # case 2
        ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),  # case 3: the relative gate drops the quiet parts
        ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),  # case 4
        ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),  # case 5
    ],
)
def test_it_reads_the_ebu_tech_3341_cases(rate: int, parts: list[tuple[float, float]], expected: float) -> None:
    signal = np.concatenate([tone(level, seconds, rate) for level, seconds in parts])
    assert integrated_loudness(signal, rate) == pytest.approx(expected, abs=METER_TOLERANCE_LU)


def signals(rate: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rate)
    t = np.arange(6 * rate) / rate
    melody = sum(np.sin(2 * np.pi * f * t) * np.exp(-((t % 0.5) * 6)) for f in (220.0, 330.0, 440.0, 3520.0))
    return {
        "white noise": rng.normal(0, 0.1, (t.size, 2)),
        "brown noise": np.cumsum(rng.normal(0, 0.01, (t.size, 1)), axis=0) * 0.05,
        "plucked chord": 0.1 * np.stack([melody, np.roll(melody, rate // 10)], axis=1),
        "loud then quiet": np.stack([np.where(t < 3, 0.3, 0.003) * np.sin(2 * np.pi * 440 * t)] * 2, axis=1),
        "five channels": rng.normal(0, 0.05, (t.size, 5)),
        "a short click": np.pad(np.ones((400, 2)) * 0.5, ((0, rate // 5), (0, 0))),
    }


@pytest.mark.parametrize("rate", [44100, 48000])
def test_it_agrees_with_torchaudio(rate: int) -> None:
    """torchaudio designs its K-weighting from rounded parameters (a 1.5 kHz shelf, a 38 Hz high-pass), so it drifts
    from the standard's filter as the rate falls (0.13 LU at 16 kHz on white noise); at the rates music comes in, it
    is a meter within the standard's tolerance, and ours must agree with it there."""
    for name, signal in signals(rate).items():
        samples = signal.astype(np.float32)
        waveform = torch.from_numpy(np.ascontiguousarray(samples.T))
        if waveform.shape[1] < int(0.4 * rate):
            waveform = torch.nn.functional.pad(waveform, (0, int(0.4 * rate) - waveform.shape[1]))
        reference = float(AF.loudness(waveform, rate))
        assert integrated_loudness(samples, rate) == pytest.approx(reference, abs=METER_TOLERANCE_LU), name


def test_silence_has_no_loudness() -> None:
    assert integrated_loudness(np.zeros((48000, 2), dtype=np.float32), 48000) == float("-inf")
    assert integrated_loudness(tone(-90.0, 2.0, 48000), 48000) == float("-inf")  # under the absolute gate


@pytest.mark.parametrize("rate", [22050, 48000])
def test_a_gain_moves_the_loudness_by_exactly_the_gain(rate: int) -> None:
    """Exactly up to the filter's float32 rounding (a thousandth of the meter's tolerance): what lets the ingest
    skip measuring again after a plain gain."""
    signal = signals(rate)["plucked chord"]
    assert integrated_loudness(signal * 10 ** (-6 / 20), rate) == pytest.approx(
        integrated_loudness(signal, rate) - 6.0, abs=1e-4)
    mono = signal[:, :1]
    assert integrated_loudness(np.repeat(mono, 2, axis=1), rate) == pytest.approx(
        integrated_loudness(mono, rate) + 10 * np.log10(2), abs=1e-6)
