"""A no-learning quality score from signal processing, to compare the reward model against:
tonal (low spectral flatness), dynamic (high crest factor) and wide-band (high roll-off) is better.

The weights are fixed by typical spreads in music, not fitted: crest factors span about 3 dB
between tracks, mean spectral flatness about 0.1, and roll-off frequencies about an octave, so
each term moves the score by about one unit across ordinary material.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from reward.ml.audio import AudioSource, audio_load_mono

BASELINE_SAMPLE_RATE = 24_000
FRAME = 1024
HOP = 512


@dataclass(frozen=True)
class BaselineFeatures:
    crest_factor_db: float
    spectral_flatness: float
    rolloff_hz: float

    @property
    def score(self) -> float:
        return self.crest_factor_db / 3.0 - self.spectral_flatness / 0.1 + math.log2(max(self.rolloff_hz, 1.0))


def baseline_features(*, source: AudioSource, sample_rate: int = BASELINE_SAMPLE_RATE) -> BaselineFeatures:
    """Crest factor (peak over RMS, dB), mean spectral flatness of loud frames, 95% roll-off frequency."""
    mono = audio_load_mono(source=source, sample_rate=sample_rate).to(torch.float64)
    if mono.numel() < FRAME:
        mono = torch.nn.functional.pad(mono, (0, FRAME - mono.numel()))
    rms = float(mono.square().mean().sqrt())
    peak = float(mono.abs().max())
    crest = 20 * math.log10(max(peak, 1e-12) / max(rms, 1e-12))
    spectrum = torch.stft(mono, FRAME, HOP, window=torch.hann_window(FRAME, dtype=torch.float64), return_complex=True)
    power = spectrum.abs().square().T.numpy() + 1e-20  # (frames, bins)
    energy = power.sum(axis=1)
    # Frames within 30 dB of the loudest carry the music; silence would read as perfectly flat noise.
    loud = energy >= energy.max() * 1e-3
    flatness = np.exp(np.mean(np.log(power[loud]), axis=1)) / np.mean(power[loud], axis=1)
    cumulative = np.cumsum(power[loud].sum(axis=0))
    bin_index = int(np.searchsorted(cumulative, 0.95 * cumulative[-1]))
    rolloff = bin_index * sample_rate / FRAME
    return BaselineFeatures(crest_factor_db=crest, spectral_flatness=float(flatness.mean()), rolloff_hz=rolloff)


def baseline_score(*, source: AudioSource) -> float:
    """Higher is better; comparable between versions of one clip, like the reward model's scores."""
    return baseline_features(source=source).score
