"""Signal analysis the network gets beside its log-mel: fixed DSP measurements that a small CNN on 64 mel bands
cannot make well, computed once per clip (on its middle 6 s at most; per 2 s crop in stage 1) from the mono
waveform; cheap next to the network (its cost per clip: NOTES.md, "Measured figures").

- Artefacts (ARTEFACT_DIM values, for musicality and overall): the steepest drop of the long-term spectrum across
  300 Hz (a band limit leaves a cliff), the noise floor per high band (the 5th percentile over time, absolute and
  relative to the median: hiss fills the quiet frames), the level per high band, the pitch stability of the
  strongest partial between frames 43 ms apart (tape wow drifts it), the share of samples at the peak (clipping)
  and the crest factor.
- Rhythm (len(BPM_GRID) values): autocorrelation of the spectral-flux onset envelope at the beat period of each
  tempo on a log-spaced grid, so that a tempo the prompt asks for can be looked up.
- Pitch classes (12 values): a chroma vector from a fine spectrum (2.9 Hz bins at 24 kHz), so that the key and
  mode the prompt asks for can be compared with the Krumhansl–Kessler profiles.
- Low frequencies (LOW_DIM values, last, for musicality and overall; issue 16): the level of 20-120 Hz, the floor
  (5th percentile over time) and floor less median of the bands 20-120 Hz and 120-400 Hz, and the steadiest tonal
  ladder on fundamentals of 40-140 Hz.
  Mains hum and rumble are steady: they fill the quiet frames of the bass band the way hiss fills the high bands,
  and hum stands out of the fine spectrum at the same harmonics in every frame, where bass notes come and go.
  The high-band figures above cannot see either (the first build with real music preferred hummy copies).

`prompt_attributes` reads the tempo ("96 BPM") and key ("in F# minor") a prompt states, and `attribute_match`
turns analysis and attributes into a few match figures for the prompt-alignment and overall heads. None of this is
learned: the heads learn how much each figure matters. Free of Django.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch
import torchaudio

ANALYSIS_RATE = 24_000
BPM_GRID = np.exp(np.linspace(math.log(40.0), math.log(240.0), 48)).astype(np.float32)
ARTEFACT_DIM = 21
RHYTHM_DIM = len(BPM_GRID)
CHROMA_DIM = 12
LOW_DIM = 6
ANALYSIS_DIM = ARTEFACT_DIM + RHYTHM_DIM + CHROMA_DIM + LOW_DIM
LOW_START = ARTEFACT_DIM + RHYTHM_DIM + CHROMA_DIM
# Every low-frequency figure rises with hum or rumble.
LOW_DIRECTION = (1.0,) * LOW_DIM
# Which way each artefact figure moves when a clip is damaged: +1 it rises, -1 it falls, 0 either way (the share
# of steady partials). The network may only count a figure against a clip in its damage direction.
ARTEFACT_DIRECTION = (
    (1.0,)  # cliff
    + (1.0,) * 5  # noise floor per high band
    + (1.0,) * 5  # floor relative to the median per high band
    + (-1.0,) * 5  # level per high band (a band limit empties them)
    + (1.0, 1.0, 0.0)  # pitch change: median, mean; share of steady frames
    + (1.0, -1.0)  # share of samples at the peak; crest factor
)
ATTRIBUTE_DIM = 5  # tempo present, log2 BPM, key present, key pitch class, mode (+1 major, -1 minor)
MATCH_DIM = 7

_LOW_BANDS = ((20, 120), (120, 400))
_LADDER_F0 = np.arange(40.0, 140.0, 1.0)  # fundamentals searched for a steady ladder of partials
_LADDER_HARMONICS = 4
_LADDER_BINS = 200  # of the 2.9 Hz spectrum: up to 586 Hz, above the highest partial searched
_HIGH_BANDS = ((2000, 4000), (4000, 6000), (6000, 8000), (8000, 10000), (10000, 12000))
_FLUX_HOP = 1024
_LONGEST_S = 6.0  # longer clips are analysed on their middle 6 s (stage 1 sees 2 s crops)
_FRAMES_PER_SECOND = ANALYSIS_RATE / _FLUX_HOP
# Krumhansl–Kessler key profiles, C major and C minor.
_MAJOR = torch.tensor([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = torch.tensor([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_TEMPO = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)", re.IGNORECASE)
# The tonic's letter must be a capital ("a minor piece" is not A minor); the accidental may be a sign or a word.
_KEY = re.compile(r"\b([A-G])(#|♯|b|♭|[ -](?:sharp|flat))?[ -]((?i:major|minor))\b")
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


_WINDOW = {size: torch.hann_window(size) for size in (2048, 8192)}


def _artefacts(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ARTEFACT_DIM figures, the onset envelope, the power spectrogram) of an RMS-normalised mono waveform at
    ANALYSIS_RATE."""
    spec = _power(x, 2048, _FLUX_HOP)  # (1025, T)
    mean_db = 10.0 * torch.log10(spec.mean(dim=-1) + 1e-10)
    # The steepest fall of the long-term spectrum from one 300 Hz window to the next, 1-11.7 kHz.
    width = 26
    left = mean_db.unfold(0, width, 1).mean(dim=-1)  # left[i] = mean of mean_db[i : i + width]
    starts = torch.arange(85 - width, 1000 - width, 4)
    cliff = (left[starts] - left[starts + width]).max()
    # Per high band and frame, the level; over time, its 5th percentile (the floor) and median.
    bin_hz = ANALYSIS_RATE / 2048
    bands = [slice(math.ceil(low / bin_hz), math.ceil(high / bin_hz)) for low, high in _HIGH_BANDS]
    band_db = 10.0 * torch.log10(torch.stack([spec[band].mean(dim=0) for band in bands]) + 1e-10)  # (5, T)
    floor = torch.quantile(band_db, 0.05, dim=-1)
    median = band_db.median(dim=-1).values
    figures = [cliff.reshape(1), floor, floor - median, torch.stack([mean_db[band].mean() for band in bands])]
    figures.append(_pitch_stability(spec))
    peak = x.abs().max().clamp_min(1e-9)
    figures.append(torch.stack([(x.abs() >= 0.999 * peak).float().mean() * 100.0, peak]))
    # Onset envelope: positive spectral flux of the log spectrum below 6 kHz.
    low = torch.log(spec[: int(6000 / (ANALYSIS_RATE / 2) * (spec.shape[0] - 1))] + 1e-10)
    onset = torch.relu(low[:, 1:] - low[:, :-1]).mean(dim=0) if low.shape[-1] >= 2 else torch.zeros(1)
    return torch.cat(figures), onset, spec


def _power(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Power spectrogram (n_fft // 2 + 1, frames) of Hann-windowed frames, none padded (x holds >= n_fft)."""
    spectrum = torch.fft.rfft(x.unfold(0, n_fft, hop) * _WINDOW[n_fft])
    return (spectrum * spectrum.conj()).real.T


def _low_frequency(x: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
    """LOW_DIM figures of an RMS-normalised waveform and its 2048-point power spectrogram: per band of _LOW_BANDS the
    floor (5th percentile over time) and the floor less the median (dB), with the mean level of 20-120 Hz first;
    then the steadiest ladder of partials: for each fundamental of _LADDER_F0 the prominence (dB over the median of
    the neighbourhood 6-18 Hz away) of its first partials in a 2.9 Hz spectrum of 0.34 s frames, its 20th
    percentile over frames, the largest over the fundamentals. On the real test excerpts each rises with mains hum
    and brown noise in 83-100% of pairs (NOTES.md); a long-term spectrum's ladder, the level of 120-400 Hz and a
    mean over frames did not (added noise fills the neighbourhood of the music's own partials)."""
    bin_hz = ANALYSIS_RATE / 2048
    figures = []
    for number, (low, high) in enumerate(_LOW_BANDS):
        band = spec[math.floor(low / bin_hz) : math.ceil(high / bin_hz)]
        level = 10.0 * torch.log10(band.mean(dim=0) + 1e-10)
        floor = torch.quantile(level, 0.05)
        if number == 0:  # the bass band's level (120-400 Hz falls when noise is added: not a damage direction)
            figures.append(10.0 * torch.log10(band.mean() + 1e-10))
        figures += [floor, floor - level.median()]
    fine = _power(x, 8192, 4096) if x.shape[0] >= 8192 else _power(torch.nn.functional.pad(x, (0, 8192 - x.shape[0])),
                                                                     8192, 4096)
    fine_db = 10.0 * torch.log10(fine[:_LADDER_BINS] + 1e-10)  # up to 586 Hz, (bins, T)
    fine_hz = ANALYSIS_RATE / 8192
    partials = torch.from_numpy(_LADDER_F0[:, None] * np.arange(1, _LADDER_HARMONICS + 1)[None, :] / fine_hz)
    peak_bins = partials.round().long()
    offsets = torch.tensor([-6, -5, -4, -3, -2, 2, 3, 4, 5, 6])  # 6-18 Hz away
    around = (peak_bins[..., None] + offsets).clamp(0, _LADDER_BINS - 1)

    def prominence(db: torch.Tensor) -> torch.Tensor:  # db: (bins, T) -> (fundamentals, T)
        peak = torch.maximum(db[peak_bins], torch.maximum(db[peak_bins - 1], db[peak_bins + 1]))
        return (peak - db[around].median(dim=2).values).mean(dim=1)

    steady = torch.quantile(prominence(fine_db), 0.2, dim=-1).max()
    return torch.stack([*figures, steady])


def _pitch_stability(spec: torch.Tensor) -> torch.Tensor:
    """Median and mean change (cents) of the strongest partial in 100-2000 Hz between frames 43 ms apart, over
    the changes small enough to lie within a held note, and the share of such changes."""
    low, high = 9, 171
    band = spec[low:high]
    if band.shape[-1] < 2:
        return torch.zeros(3)
    k = band.argmax(dim=0).clamp(1, band.shape[0] - 2)
    frames = torch.arange(band.shape[1])
    a, b, c = (torch.log(band[k + offset, frames] + 1e-12) for offset in (-1, 0, 1))
    delta = 0.5 * (a - c) / (a - 2 * b + c - 1e-12)
    hz = (k + low + delta.clamp(-1, 1)) * ANALYSIS_RATE / 2048
    cents = 1200.0 * torch.log2(hz.clamp_min(1.0))
    change = (cents[1:] - cents[:-1]).abs()
    steady = change[change < 60]
    if steady.numel() == 0:
        return torch.tensor([0.0, 0.0, 0.0])
    return torch.stack([steady.median(), steady.mean(), (change < 60).float().mean()])


def _rhythm(onset: torch.Tensor) -> torch.Tensor:
    """Normalised autocorrelation of the onset envelope at the beat period of each BPM_GRID tempo."""
    centred = onset - onset.mean()
    n = centred.shape[0]
    energy = float((centred * centred).sum())
    out = torch.zeros(RHYTHM_DIM)
    if n < 4 or energy <= 1e-12:
        return out
    spectrum = torch.fft.rfft(centred, n=2 * n)
    correlation = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n)[:n] / energy
    lags = torch.from_numpy(60.0 * _FRAMES_PER_SECOND / BPM_GRID)
    usable = lags < n - 1
    index = lags.clamp(max=n - 2).floor().long()
    weight = lags.clamp(max=n - 2) - index
    values = (1 - weight) * correlation[index] + weight * correlation[index + 1]
    return torch.where(usable, values, out)


def _chroma(x: torch.Tensor) -> torch.Tensor:
    """Pitch-class profile (sums to 1) of the magnitude spectrum between 80 Hz and 2 kHz."""
    if x.shape[0] < 8192:
        x = torch.nn.functional.pad(x, (0, 8192 - x.shape[0]))
    spec = _power(x, 8192, 8192).mean(dim=-1)
    freqs = torch.arange(spec.shape[0]) * ANALYSIS_RATE / 8192
    keep = (freqs > 80) & (freqs < 2000)
    classes = (torch.round(12 * torch.log2(freqs[keep] / 440.0)).long() + 9) % 12
    chroma = torch.zeros(12).index_add_(0, classes, spec[keep].sqrt())
    return chroma / chroma.sum().clamp_min(1e-9)


def analysis_vector(*, waveform: torch.Tensor) -> torch.Tensor:
    """ANALYSIS_DIM figures of a mono waveform at ANALYSIS_RATE: artefacts, rhythm, pitch classes, low frequencies."""
    with torch.no_grad():
        x = waveform.to(torch.float32).flatten()
        longest = int(_LONGEST_S * ANALYSIS_RATE)
        if x.numel() > longest:
            start = (x.numel() - longest) // 2
            x = x[start : start + longest]
        if x.numel() < 2048:
            x = torch.nn.functional.pad(x, (0, 2048 - x.numel()))
        rms = x.pow(2).mean().sqrt()
        x = x / rms.clamp_min(1e-9)
        artefacts, onset, spec = _artefacts(x)
        out = torch.cat([artefacts, _rhythm(onset), _chroma(x), _low_frequency(x, spec)])
        return torch.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def clip_analysis(*, mono: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """analysis_vector of a mono waveform at any rate (resampled to ANALYSIS_RATE first when it differs)."""
    if sample_rate != ANALYSIS_RATE:
        mono = torchaudio.functional.resample(mono.to(torch.float32), sample_rate, ANALYSIS_RATE)
    return analysis_vector(waveform=mono)


def prompt_attributes(*, text: str | None) -> list[float]:
    """[tempo stated, log2 BPM, key stated, pitch class, +1 major / -1 minor] read from a prompt (zeros if not)."""
    values = [0.0] * ATTRIBUTE_DIM
    if not text:
        return values
    tempo = _TEMPO.search(text)
    if tempo is not None:
        bpm = float(tempo.group(1))
        if 20.0 <= bpm <= 400.0:
            values[0], values[1] = 1.0, math.log2(bpm)
    key = _KEY.search(text)
    if key is not None:
        accidental = (key.group(2) or "").strip(" -").lower()
        pitch = _PITCH[key.group(1)] + (1 if accidental in ("#", "♯", "sharp") else -1 if accidental else 0)
        values[2], values[3] = 1.0, float(pitch % 12)
        values[4] = 1.0 if key.group(3).lower() == "major" else -1.0
    return values


def attribute_match(*, analysis: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """(batch, MATCH_DIM): how far each clip's rhythm and pitch classes fit the tempo and key its prompt states.

    Tempo: the onset autocorrelation at the stated beat period, twice it and half it, each minus the strongest
    value on the grid (0 when the stated tempo is the clip's strongest pulse), and whether a tempo was stated.
    Key: the correlation of the chroma with the stated key's profile minus that with the other mode's profile of
    the same tonic, the correlation itself, and whether a key was stated. Zeros where the prompt states nothing.
    """
    rows = analysis.shape[0]
    device = analysis.device
    rhythm = analysis[:, ARTEFACT_DIM : ARTEFACT_DIM + RHYTHM_DIM]
    chroma = analysis[:, ARTEFACT_DIM + RHYTHM_DIM : LOW_START]
    grid = torch.log2(torch.from_numpy(BPM_GRID)).to(device)
    tempo_stated, log_bpm = attributes[:, 0], attributes[:, 1]
    strongest = rhythm.max(dim=1).values
    tempo = []
    for octave in (0.0, 1.0, -1.0):
        position = ((log_bpm + octave - grid[0]) / (grid[1] - grid[0])).clamp(0, len(BPM_GRID) - 1.0001)
        index = position.floor().long()
        weight = position - index
        value = (1 - weight) * rhythm.gather(1, index[:, None])[:, 0] + weight * rhythm.gather(1, index[:, None] + 1)[
            :, 0
        ]
        tempo.append((value - strongest) * tempo_stated)
    key_stated, tonic, mode = attributes[:, 2], attributes[:, 3].long() % 12, attributes[:, 4]
    rotation = (torch.arange(12, device=device)[None, :] - tonic[:, None]) % 12
    major = _MAJOR.to(device)[rotation]
    minor = _MINOR.to(device)[rotation]

    def correlation(profile: torch.Tensor) -> torch.Tensor:
        a = chroma - chroma.mean(dim=1, keepdim=True)
        b = profile - profile.mean(dim=1, keepdim=True)
        return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-9)

    stated = torch.where(mode > 0, correlation(major), correlation(minor))
    other = torch.where(mode > 0, correlation(minor), correlation(major))
    match = torch.stack(
        [*tempo, tempo_stated, (stated - other) * key_stated, stated * key_stated, key_stated], dim=1
    )
    return match.reshape(rows, MATCH_DIM)


__all__ = [
    "ANALYSIS_DIM",
    "ANALYSIS_RATE",
    "ARTEFACT_DIM",
    "ARTEFACT_DIRECTION",
    "ATTRIBUTE_DIM",
    "BPM_GRID",
    "LOW_DIM",
    "LOW_DIRECTION",
    "LOW_START",
    "MATCH_DIM",
    "analysis_vector",
    "attribute_match",
    "clip_analysis",
    "prompt_attributes",
]
