"""Deterministic music synthesiser and audio degradations for Earshot's demo catalogue and reward-model pre-training.

Pure numpy + scipy: arrays in, arrays out; it imports no Django and no torch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

import numpy as np
from scipy import ndimage, signal

__all__ = [
    "DEMO_SYSTEMS",
    "EXPECTED_RANKING",
    "INSTRUMENTS",
    "KEY_NAMES",
    "MODES",
    "MOODS",
    "MusicSpec",
    "SystemProfile",
    "add_noise",
    "band_limit",
    "degrade",
    "detune",
    "hard_clip",
    "random_spec",
    "render",
    "render_system_clip",
    "spec_prompt_text",
    "system_spec",
]

Mode = Literal["major", "minor"]

MODES: tuple[str, ...] = ("major", "minor")
INSTRUMENTS: tuple[str, ...] = (
    "piano",
    "strings",
    "synth pad",
    "plucked guitar",
    "organ",
    "bass + drums",
    "bells",
    "flute",
)
MOODS: tuple[str, ...] = ("calm", "energetic", "dark", "happy", "melancholic", "dreamy")
KEY_NAMES: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

TEMPO_RANGE = (40, 220)

# Tempo ranges per mood keep "a calm piece at 180 BPM" out of the random prompts while still spanning 60-180 BPM.
_MOOD_TEMPI: dict[str, tuple[int, int]] = {
    "calm": (60, 100),
    "dreamy": (60, 104),
    "melancholic": (60, 112),
    "dark": (70, 140),
    "happy": (96, 160),
    "energetic": (118, 180),
}
# Probability of the minor mode per mood: moods lean towards a mode, as listeners expect, without forcing it.
_MOOD_MINOR_PROBABILITY: dict[str, float] = {
    "calm": 0.4,
    "dreamy": 0.4,
    "melancholic": 0.85,
    "dark": 0.85,
    "happy": 0.15,
    "energetic": 0.4,
}


@dataclass(frozen=True)
class MusicSpec:
    """What a piece should be: the prompt's musical content plus its effects and mastering."""

    tempo_bpm: int = 100
    mode: str = "major"
    key: int = 0
    instrument: str = "piano"
    mood: str = "calm"
    with_drums: bool = False
    duration_s: float = 10.0
    reverb_amount: float = 0.25
    eq_tilt_db: float = 0.0
    compression: float = 0.4
    stereo_width: float = 1.0

    def __post_init__(self) -> None:
        if not TEMPO_RANGE[0] <= self.tempo_bpm <= TEMPO_RANGE[1]:
            raise ValueError(f"tempo_bpm must lie in {TEMPO_RANGE}, got {self.tempo_bpm}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not 0 <= self.key <= 11:
            raise ValueError(f"key is a pitch class 0-11 (0 = C), got {self.key}")
        if self.instrument not in INSTRUMENTS:
            raise ValueError(f"instrument must be one of {INSTRUMENTS}, got {self.instrument!r}")
        if self.mood not in MOODS:
            raise ValueError(f"mood must be one of {MOODS}, got {self.mood!r}")
        if not 0.25 <= self.duration_s <= 120.0:
            raise ValueError(f"duration_s must lie in [0.25, 120], got {self.duration_s}")
        if not 0.0 <= self.reverb_amount <= 1.0:
            raise ValueError(f"reverb_amount must lie in [0, 1], got {self.reverb_amount}")
        if not -12.0 <= self.eq_tilt_db <= 12.0:
            raise ValueError(f"eq_tilt_db must lie in [-12, 12], got {self.eq_tilt_db}")
        if not 0.0 <= self.compression <= 1.0:
            raise ValueError(f"compression must lie in [0, 1], got {self.compression}")
        if not 0.0 <= self.stereo_width <= 2.0:
            raise ValueError(f"stereo_width must lie in [0, 2], got {self.stereo_width}")

    @property
    def key_name(self) -> str:
        return KEY_NAMES[self.key]


def random_spec(rng: np.random.Generator, *, duration_s: float | None = None) -> MusicSpec:
    """Draw a spec over wide ranges: every instrument, mood, key and mode; tempo 60-180; effects from dry to heavy."""
    mood = str(rng.choice(MOODS))
    instrument = str(rng.choice(INSTRUMENTS))
    low, high = _MOOD_TEMPI[mood]
    tempo = int(rng.integers(low, high + 1))
    mode = "minor" if rng.random() < _MOOD_MINOR_PROBABILITY[mood] else "major"
    key = int(rng.integers(0, 12))
    with_drums = instrument == "bass + drums" or bool(rng.random() < 0.55)
    duration = float(rng.uniform(8.0, 12.0)) if duration_s is None else float(duration_s)
    return MusicSpec(
        tempo_bpm=tempo,
        mode=mode,
        key=key,
        instrument=instrument,
        mood=mood,
        with_drums=with_drums,
        duration_s=duration,
        reverb_amount=float(rng.uniform(0.0, 0.9)),
        eq_tilt_db=float(rng.uniform(-6.0, 6.0)),
        compression=float(rng.uniform(0.0, 1.0)),
        stereo_width=float(rng.uniform(0.2, 1.5)),
    )


def spec_prompt_text(spec: MusicSpec) -> str:
    """The English prompt a listener reads, e.g. "A calm piano piece in A minor at 72 BPM"."""
    article = "An" if spec.mood[0] in "aeiou" else "A"
    text = f"{article} {spec.mood} {spec.instrument} piece in {spec.key_name} {spec.mode} at {spec.tempo_bpm} BPM"
    if spec.with_drums and spec.instrument != "bass + drums":
        text += ", with drums"
    return text


# --------------------------------------------------------------------------------------------------------------------
# Composition: chords, melody, bass and drums as note events.

_SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Scale degrees (0 = tonic) per bar; well-worn progressions so every piece sounds like it is in its key.
_PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": (
        (0, 4, 5, 3),
        (0, 5, 3, 4),
        (0, 3, 4, 4),
        (0, 3, 0, 4),
        (5, 3, 0, 4),
        (0, 1, 4, 0),
        (0, 4, 5, 2, 3, 0, 3, 4),
    ),
    "minor": (
        (0, 5, 2, 6),
        (0, 3, 4, 0),
        (0, 6, 5, 6),
        (0, 3, 6, 2),
        (0, 5, 3, 4),
        (0, 3, 0, 4),
    ),
}


@dataclass(frozen=True)
class _MoodStyle:
    melody_steps: tuple[int, ...]  # note lengths to draw from, in sixteenths
    rest_probability: float
    velocity: float
    brightness: float  # 0 dull .. 1 bright
    melody_octave: int  # MIDI C of the melody's octave
    bass_pattern: tuple[tuple[int, int, int], ...]  # (step, length, scale-degree offset from the chord root)
    comp: str  # how plucked/struck instruments play the chords
    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hat: tuple[int, ...]
    seventh_probability: float


# fmt: off
_EIGHTHS = (0, 2, 4, 6, 8, 10, 12, 14)
_STYLES: dict[str, _MoodStyle] = {
    "calm": _MoodStyle(
        melody_steps=(4, 4, 8, 8, 12, 16), rest_probability=0.15, velocity=0.5, brightness=0.45, melody_octave=60,
        bass_pattern=((0, 16, 0),), comp="arpeggio8",
        kick=(0, 8), snare=(), hat=(0, 4, 8, 12), seventh_probability=0.3,
    ),
    "energetic": _MoodStyle(
        melody_steps=(1, 2, 2, 2, 4), rest_probability=0.1, velocity=0.95, brightness=1.0, melody_octave=60,
        bass_pattern=tuple((s, 2, 7 if s % 4 == 2 else 0) for s in _EIGHTHS), comp="stab8",
        kick=(0, 4, 8, 12), snare=(4, 12), hat=tuple(range(16)), seventh_probability=0.1,
    ),
    "dark": _MoodStyle(
        melody_steps=(4, 4, 8, 2, 6), rest_probability=0.25, velocity=0.7, brightness=0.3, melody_octave=48,
        bass_pattern=((0, 8, 0), (8, 6, 0), (14, 2, -1)), comp="block",
        kick=(0, 10), snare=(8,), hat=_EIGHTHS, seventh_probability=0.2,
    ),
    "happy": _MoodStyle(
        melody_steps=(2, 2, 4, 4, 2, 6), rest_probability=0.1, velocity=0.8, brightness=0.85, melody_octave=60,
        bass_pattern=((0, 4, 0), (4, 4, 4), (8, 4, 7), (12, 4, 4)), comp="stab",
        kick=(0, 8, 10), snare=(4, 12), hat=_EIGHTHS, seventh_probability=0.1,
    ),
    "melancholic": _MoodStyle(
        melody_steps=(4, 4, 2, 6, 8), rest_probability=0.2, velocity=0.6, brightness=0.5, melody_octave=60,
        bass_pattern=((0, 8, 0), (8, 8, 4)), comp="arpeggio4",
        kick=(0, 8), snare=(4, 12), hat=(0, 4, 8, 12), seventh_probability=0.5,
    ),
    "dreamy": _MoodStyle(
        melody_steps=(4, 6, 8, 2, 12), rest_probability=0.2, velocity=0.55, brightness=0.6, melody_octave=72,
        bass_pattern=((0, 12, 0), (12, 4, 4)), comp="arpeggio_rise",
        kick=(0, 10), snare=(8,), hat=(2, 6, 10, 14), seventh_probability=0.6,
    ),
}
# fmt: on


@dataclass(frozen=True)
class _Orchestration:
    lead: str
    chords: str | None
    chord_style: str  # "sustain" or "comp" (the mood's comping pattern)
    lead_gain: float
    chord_gain: float


_ORCHESTRATION: dict[str, _Orchestration] = {
    "piano": _Orchestration("piano", "piano", "comp", 0.55, 0.3),
    "strings": _Orchestration("strings", "strings", "sustain", 0.45, 0.22),
    "synth pad": _Orchestration("saw lead", "pad", "sustain", 0.5, 0.22),
    "plucked guitar": _Orchestration("guitar", "guitar", "comp", 0.9, 0.5),
    "organ": _Orchestration("organ", "organ", "sustain", 0.3, 0.16),
    "bass + drums": _Orchestration("lead bass", None, "comp", 0.6, 0.0),
    "bells": _Orchestration("bells", "bells", "comp", 0.45, 0.18),
    "flute": _Orchestration("flute", "strings", "sustain", 0.5, 0.2),
}


class _Note(NamedTuple):
    start_s: float
    hold_s: float
    midi: float
    velocity: float
    pan: float  # -1 left .. 1 right
    timbre: str
    gain: float


def _degree_midi(index: int, *, key: int, mode: str, octave_c: int, raise_seventh: bool) -> int:
    scale = _SCALES[mode]
    pitch = octave_c + key + scale[index % 7] + 12 * (index // 7)
    # Harmonic minor: the dominant chord gets a leading tone so cadences resolve.
    if raise_seventh and index % 7 == 6:
        pitch += 1
    return pitch


def _chord_indices(degree: int, seventh: bool) -> list[int]:
    indices = [degree, degree + 2, degree + 4]
    if seventh:
        indices.append(degree + 6)
    return indices


class _Arrangement:
    """What every part of a piece shares: its grid, its chords bar by bar and the random humanisation."""

    def __init__(self, spec: MusicSpec, rng: np.random.Generator) -> None:
        self.spec, self.rng = spec, rng
        self.style = _STYLES[spec.mood]
        self.orchestration = _ORCHESTRATION[spec.instrument]
        self.step_s = 60.0 / spec.tempo_bpm / 4.0
        self.bar_s = 16 * self.step_s
        bars_per_chord = 1 if spec.tempo_bpm <= 120 else 2
        self.n_bars = math.ceil(spec.duration_s / self.bar_s) + 1
        progression = _PROGRESSIONS[spec.mode][int(rng.integers(len(_PROGRESSIONS[spec.mode])))]
        self.chord_of_bar = [progression[(bar // bars_per_chord) % len(progression)] for bar in range(self.n_bars)]
        self.sevenths = [bool(rng.random() < self.style.seventh_probability) for _ in range(self.n_bars)]

    def midi_of(self, index: int, octave_c: int, degree: int) -> int:
        spec = self.spec
        return _degree_midi(index, key=spec.key, mode=spec.mode, octave_c=octave_c,
                            raise_seventh=spec.mode == "minor" and degree == 4)

    def jitter(self) -> float:
        return float(self.rng.normal(0.0, 0.004))

    def vel(self, scale: float = 1.0) -> float:
        return float(np.clip(self.style.velocity * scale * self.rng.uniform(0.88, 1.08), 0.05, 1.0))


def _compose(spec: MusicSpec, rng: np.random.Generator) -> list[_Note]:
    """The piece's notes, part by part (chords, bass, melody, drums: the order of the random draws)."""
    piece = _Arrangement(spec, rng)
    notes = [*_chord_part(piece), *_bass_part(piece), *_melody_part(piece), *_drum_part(piece)]
    return [note for note in notes if note.start_s < spec.duration_s]


def _chord_part(piece: _Arrangement) -> list[_Note]:
    orchestration, step_s, bar_s = piece.orchestration, piece.step_s, piece.bar_s
    notes: list[_Note] = []
    if orchestration.chords is None:
        return notes
    for bar in range(piece.n_bars):
        degree = piece.chord_of_bar[bar]
        indices = _chord_indices(degree, piece.sevenths[bar])
        if piece.midi_of(degree, 48, degree) > 60 + piece.spec.key % 6:
            indices = [i - 7 for i in indices]
        pitches = [piece.midi_of(i, 48, degree) for i in indices]
        bar_start = bar * bar_s
        spread = np.linspace(-0.45, 0.45, len(pitches))
        gain = orchestration.chord_gain / math.sqrt(len(pitches))
        if orchestration.chord_style == "sustain":
            for pitch, voice_pan in zip(pitches, spread.tolist(), strict=True):
                notes.append(_Note(bar_start, bar_s * 1.02, pitch, piece.vel(0.8), voice_pan, orchestration.chords,
                                   gain))
            continue
        for step, length, choice in _comp_pattern(piece.style.comp, len(pitches)):
            start = bar_start + step * step_s + piece.jitter()
            chosen = pitches if choice < 0 else [pitches[choice % len(pitches)] + 12 * (choice // len(pitches))]
            for pitch in chosen:
                tone_pan = float(spread[pitches.index(pitch) if pitch in pitches else -1])
                notes.append(
                    _Note(max(start, 0.0), length * step_s, pitch, piece.vel(0.75), tone_pan, orchestration.chords,
                          gain)
                )
    return notes


def _bass_part(piece: _Arrangement) -> list[_Note]:
    gain = 0.3 if piece.spec.instrument == "bass + drums" else 0.42
    notes: list[_Note] = []
    for bar in range(piece.n_bars):
        degree = piece.chord_of_bar[bar]
        for step, length, offset in piece.style.bass_pattern:
            pitch = piece.midi_of(degree + offset, 36, degree)
            while pitch > 50:
                pitch -= 12
            start = max(bar * piece.bar_s + step * piece.step_s + piece.jitter(), 0.0)
            notes.append(_Note(start, length * piece.step_s * 0.92, pitch, piece.vel(0.9), 0.0, "bass", gain))
    return notes


def _melody_part(piece: _Arrangement) -> list[_Note]:
    """Two motifs in an A A' B A phrase, strong beats snapped to chord tones."""
    style, rng, n_bars = piece.style, piece.rng, piece.n_bars
    melody_octave = style.melody_octave if piece.spec.instrument != "bass + drums" else 36
    motif_a = _motif(style, rng)
    motif_a_varied = [(s, d, r, int(c + rng.integers(-1, 2)) if rng.random() < 0.3 else c) for s, d, r, c in motif_a]
    motif_b = _motif(style, rng)
    phrase = [motif_a, motif_a_varied, motif_b, motif_a]
    notes: list[_Note] = []
    for segment in range(math.ceil(n_bars / 2)):
        motif = phrase[segment % len(phrase)]
        segment_start_step = segment * 32
        index = 7 + piece.chord_of_bar[min(segment * 2, n_bars - 1)] % 3
        for step, length, rest, contour in motif:
            index = int(np.clip(index + contour, 3, 15))
            absolute = segment_start_step + step
            degree = piece.chord_of_bar[min(absolute // 16, n_bars - 1)]
            if absolute % 8 == 0:
                index = _nearest_chord_tone(index, degree)
            if rest:
                continue
            notes.append(
                _Note(
                    max(absolute * piece.step_s + piece.jitter(), 0.0),
                    length * piece.step_s * 0.95,
                    piece.midi_of(index, melody_octave, degree),
                    piece.vel(1.0 if absolute % 4 == 0 else 0.85),
                    float(rng.uniform(-0.12, 0.12)),
                    piece.orchestration.lead,
                    piece.orchestration.lead_gain,
                )
            )
    return notes


def _drum_part(piece: _Arrangement) -> list[_Note]:
    spec, style, step_s = piece.spec, piece.style, piece.step_s
    notes: list[_Note] = []
    if not (spec.with_drums or spec.instrument == "bass + drums"):
        return notes
    for bar in range(piece.n_bars):
        bar_start = bar * piece.bar_s
        for step in style.kick:
            notes.append(_Note(bar_start + step * step_s, 0.0, 0, piece.vel(1.0 if step == 0 else 0.85), 0.0, "kick",
                               0.45))
        for step in style.snare:
            notes.append(_Note(bar_start + step * step_s + piece.jitter(), 0.0, 0, piece.vel(), 0.05, "snare", 0.18))
        for step in style.hat:
            accent = 1.0 if step % 4 == 0 else 0.7
            notes.append(_Note(bar_start + step * step_s + piece.jitter(), 0.0, 0, piece.vel(accent), 0.3, "hat",
                               0.08))
    return notes


def _comp_pattern(comp: str, voices: int) -> list[tuple[int, int, int]]:
    """(step, length in sixteenths, chord tone; -1 for the whole chord) for one bar of accompaniment."""
    if comp == "arpeggio8":
        order = [0, 1, 2, 1 if voices < 4 else 3, 0, 1, 2, 1]
        return [(step, 16 - step, tone) for step, tone in zip(range(0, 16, 2), order, strict=True)]
    if comp == "arpeggio4":
        return [(step, 16 - step, tone) for step, tone in zip(range(0, 16, 4), (0, 1, 2, 1), strict=True)]
    if comp == "arpeggio_rise":
        return [(step, 16 - step, tone) for step, tone in zip(range(0, 16, 2), range(8), strict=True)]
    if comp == "stab8":
        return [(step, 1, -1) for step in range(0, 16, 2)]
    if comp == "stab":
        return [(0, 3, -1), (6, 2, -1), (8, 3, -1), (14, 2, -1)]
    return [(0, 8, -1), (8, 8, -1)]


def _motif(style: _MoodStyle, rng: np.random.Generator) -> list[tuple[int, int, bool, int]]:
    """Two bars of melody as (step, length, is_rest, scale-step contour)."""
    events: list[tuple[int, int, bool, int]] = []
    position = 0
    while position < 32:
        length = min(int(rng.choice(style.melody_steps)), 32 - position)
        rest = position > 0 and bool(rng.random() < style.rest_probability)
        contour = int(rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3)))
        events.append((position, length, rest, contour))
        position += length
    return events


def _nearest_chord_tone(index: int, degree: int) -> int:
    for distance in (0, 1, -1, 2, -2):
        if (index + distance - degree) % 7 in (0, 2, 4):
            return index + distance
    return index


# --------------------------------------------------------------------------------------------------------------------
# Timbres: each returns a mono float32 note, release tail included.


def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / np.float32(sr)


def _release_envelope(n: int, sr: int, hold_s: float, attack_s: float, release_s: float) -> np.ndarray:
    """Linear attack to 1, hold, exponential-looking release; vectorised through np.interp."""
    hold = max(hold_s, attack_s)
    times = [0.0, attack_s, hold, hold + release_s * 0.3, hold + release_s]
    levels = [0.0, 1.0, 1.0, 0.35, 0.0]
    return np.interp(_time(n, sr), times, levels).astype(np.float32)


def _cycles(freq_hz: np.ndarray, sr: int) -> np.ndarray:
    """Fractional phase in cycles for a time-varying frequency, accumulated in float64 so long notes stay in tune."""
    phase = np.cumsum(freq_hz, dtype=np.float64) / sr
    return (phase - np.floor(phase)).astype(np.float32)


def _polyblep_saw(cycles: np.ndarray, increment: np.ndarray | float) -> np.ndarray:
    """Band-limited sawtooth (PolyBLEP), so high notes do not alias."""
    saw = 2.0 * cycles - 1.0
    dt = np.broadcast_to(np.asarray(increment, dtype=np.float32), cycles.shape)
    low = cycles < dt
    high = cycles > 1.0 - dt
    x = np.where(low, cycles / np.maximum(dt, 1e-9), 0.0)
    saw = saw - np.where(low, 2 * x - x * x - 1.0, 0.0)
    y = np.where(high, (cycles - 1.0) / np.maximum(dt, 1e-9), 0.0)
    saw = saw - np.where(high, y * y + 2 * y + 1.0, 0.0)
    return saw.astype(np.float32)


@functools.lru_cache(maxsize=256)
def _butter(order: int, cutoff_hz: float, sr: int, btype: str) -> np.ndarray:
    nyquist = sr / 2.0
    cutoff = min(max(cutoff_hz, 10.0), nyquist * 0.95)
    return signal.butter(order, cutoff / nyquist, btype=btype, output="sos")


def _lowpass(x: np.ndarray, cutoff_hz: float, sr: int, order: int = 2) -> np.ndarray:
    # Snap to 1/8-octave steps so the design cache gets reused across notes.
    snapped = float(2.0 ** (round(math.log2(max(cutoff_hz, 20.0)) * 8) / 8))
    return signal.sosfilt(_butter(order, snapped, sr, "lowpass"), x).astype(np.float32)


def _decaying_partials(t: np.ndarray, freqs: np.ndarray, amps: np.ndarray, taus: np.ndarray, sr: int) -> np.ndarray:
    """Sum of exponentially decaying sines; each partial is computed only until it has decayed by 60 dB."""
    out = np.zeros_like(t)
    for freq, amp, tau in zip(freqs, amps, taus, strict=True):
        if freq >= sr * 0.475 or amp <= 0:
            continue
        length = min(len(t), int(6.9 * tau * sr) + 1)
        segment = t[:length]
        out[:length] += (
            np.float32(amp) * np.exp(segment * np.float32(-1.0 / tau)) * np.sin(segment * np.float32(2 * np.pi * freq))
        )
    return out


def _piano(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    tau = float(np.clip(1.6 * (261.6 / freq) ** 0.6, 0.35, 4.0))
    release = 0.18
    length_s = min(hold_s + release, 5.0 * tau)
    n = max(int(length_s * sr), 32)
    t = _time(n, sr)
    k = np.arange(1, 13, dtype=np.float64)
    partial_freqs = freq * k * np.sqrt(1.0 + 0.0004 * k * k)
    rolloff = 1.6 - 0.9 * brightness * velocity
    amps = k ** (-rolloff)
    amps[1::2] *= 0.8
    taus = tau / (1.0 + 0.55 * (k - 1))
    tone = _decaying_partials(t, partial_freqs, amps, taus, sr)
    hammer_n = min(n, int(0.006 * sr))
    tone[:hammer_n] += (
        0.15
        * velocity
        * rng.standard_normal(hammer_n).astype(np.float32)
        * np.linspace(1, 0, hammer_n, dtype=np.float32)
    )
    return tone * _release_envelope(n, sr, hold_s, 0.002, release) * np.float32(0.4 * velocity)


def _bells(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    # FM with an inharmonic ratio gives the metallic partials; the index decays so the strike is brighter than the ring.
    freq = _midi_hz(midi)
    tau = float(np.clip(2.2 * (523.0 / freq) ** 0.3, 0.8, 3.5))
    n = max(int(min(hold_s + 1.5, 4.0 * tau) * sr), 32)
    t = _time(n, sr)
    decay = np.exp(t * np.float32(-1.0 / tau))
    index = np.float32(1.5 + 3.0 * brightness) * np.exp(t * np.float32(-1.0 / (0.3 * tau)))
    modulator = np.sin(t * np.float32(2 * np.pi * freq * 3.5))
    tone = np.sin(t * np.float32(2 * np.pi * freq) + index * modulator)
    tone += 0.25 * np.sin(t * np.float32(2 * np.pi * freq * 2.76)) * np.exp(t * np.float32(-3.0 / tau))
    attack = np.minimum(t / np.float32(0.002), 1.0)
    return (tone * decay * attack * np.float32(0.35 * velocity)).astype(np.float32)


def _guitar(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Karplus-Strong plucked string, vectorised one period at a time."""
    freq = _midi_hz(midi)
    period = max(int(round(sr / freq - 0.5)), 2)
    t60 = float(np.clip(3.0 * (196.0 / freq) ** 0.5, 0.6, 5.0))
    release = 0.08
    n = max(int(min(hold_s + release, t60) * sr), period * 2)
    feedback = 10.0 ** (-3.0 / (t60 * freq))
    excitation = rng.uniform(-1.0, 1.0, period)
    # A softer pick (lowpassed excitation) for dull moods.
    smoothing = 0.75 * (1.0 - brightness * velocity)
    excitation = signal.lfilter([1.0 - smoothing], [1.0, -smoothing], excitation)
    excitation -= excitation.mean()
    y = np.zeros(n + period + 1)
    y[1 : period + 1] = excitation
    start = period + 1
    total = n + 1
    while start < total:
        stop = min(start + period, total)
        y[start:stop] = 0.5 * feedback * (y[start - period : stop - period] + y[start - period - 1 : stop - period - 1])
        start = stop
    tone = y[1 : n + 1].astype(np.float32)
    return tone * _release_envelope(n, sr, hold_s, 0.001, release) * np.float32(1.6 * velocity)


def _organ(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    release = 0.06
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    drawbars = (
        (0.5, 0.5),
        (1.0, 1.0),
        (2.0, 0.7),
        (3.0, 0.45 * brightness + 0.1),
        (4.0, 0.35 * brightness),
        (6.0, 0.2 * brightness),
        (8.0, 0.15 * brightness),
    )
    tone = np.zeros(n, dtype=np.float32)
    for ratio, amp in drawbars:
        if freq * ratio < sr * 0.45 and amp > 0:
            tone += np.float32(amp) * np.sin(t * np.float32(2 * np.pi * freq * ratio))
    tremolo = 1.0 + 0.12 * np.sin(t * np.float32(2 * np.pi * 6.2))
    return tone * tremolo * _release_envelope(n, sr, hold_s, 0.01, release) * np.float32(0.3 * velocity)


def _strings(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    release = 0.35
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    vibrato_depth = np.minimum(t / np.float32(0.6), 1.0) * np.float32(0.004)
    rate = float(rng.uniform(4.8, 5.8))
    tone = np.zeros(n, dtype=np.float32)
    for detune in (-0.0025, 0.0025):
        inst = freq * (1.0 + detune) * (1.0 + vibrato_depth * np.sin(t * np.float32(2 * np.pi * rate)))
        tone += _polyblep_saw(_cycles(inst, sr), inst / sr)
    tone = _lowpass(tone, min(freq * (3.0 + 6.0 * brightness), 9000.0), sr)
    attack = 0.12 + 0.25 * (1.0 - velocity)
    return tone * _release_envelope(n, sr, hold_s, attack, release) * np.float32(0.35 * velocity)


def _pad(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    release = 0.7
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    tone = 0.6 * np.sin(t * np.float32(np.pi * freq))
    for detune in (-0.006, 0.0, 0.0065):
        inst = np.full(n, freq * (1.0 + detune), dtype=np.float32)
        tone += _polyblep_saw(_cycles(inst, sr), inst / sr)
    tone = _lowpass(tone.astype(np.float32), min(freq * (2.0 + 5.0 * brightness), 7000.0), sr, order=4)
    return tone * _release_envelope(n, sr, hold_s, 0.45, release) * np.float32(0.4 * velocity)


def _saw_lead(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    release = 0.2
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    inst = freq * (1.0 + 0.003 * np.sin(t * np.float32(2 * np.pi * 5.5)))
    tone = _polyblep_saw(_cycles(inst, sr), inst / sr)
    tone += 0.5 * np.sin(t * np.float32(2 * np.pi * freq))
    tone = _lowpass(tone, min(freq * (2.5 + 5.0 * brightness), 8000.0), sr, order=2)
    return tone * _release_envelope(n, sr, hold_s, 0.03, release) * np.float32(0.5 * velocity)


def _flute(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    release = 0.12
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    vibrato = 1.0 + np.minimum(t / np.float32(0.3), 1.0) * np.float32(0.005) * np.sin(t * np.float32(2 * np.pi * 5.0))
    cycles = _cycles(freq * vibrato, sr)
    phase = cycles * np.float32(2 * np.pi)
    tone = np.sin(phase) + 0.22 * brightness * np.sin(2 * phase) + 0.08 * np.sin(3 * phase)
    breath = _lowpass(rng.standard_normal(n).astype(np.float32), min(freq * 4.0, 10000.0), sr)
    tone = tone + 0.025 * breath * (1.0 + np.float32(3.0) * np.exp(t * np.float32(-1 / 0.05)))
    return tone.astype(np.float32) * _release_envelope(n, sr, hold_s, 0.06, release) * np.float32(0.35 * velocity)


def _bass(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    freq = _midi_hz(midi)
    release = 0.08
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    inst = np.full(n, freq, dtype=np.float32)
    saw = _lowpass(_polyblep_saw(_cycles(inst, sr), inst / sr), freq * (2.0 + 4.0 * brightness), sr)
    tone = np.sin(t * np.float32(2 * np.pi * freq)) + 0.45 * saw
    pluck = 0.6 + 0.4 * np.exp(t * np.float32(-1.0 / 0.25))
    return tone * pluck * _release_envelope(n, sr, hold_s, 0.005, release) * np.float32(0.5 * velocity)


def _lead_bass(
    midi: float, hold_s: float, velocity: float, brightness: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    # A slap-like FM bass that carries the tune when the prompt asks for bass and drums only.
    freq = _midi_hz(midi)
    release = 0.06
    n = max(int((hold_s + release) * sr), 32)
    t = _time(n, sr)
    index = np.float32(1.0 + 3.0 * brightness) * np.exp(t * np.float32(-1.0 / 0.08))
    tone = np.sin(t * np.float32(2 * np.pi * freq) + index * np.sin(t * np.float32(2 * np.pi * freq)))
    return (
        tone
        * np.exp(t * np.float32(-1.0 / 0.6))
        * _release_envelope(n, sr, hold_s, 0.003, release)
        * np.float32(0.6 * velocity)
    )


_TIMBRES = {
    "piano": _piano,
    "bells": _bells,
    "guitar": _guitar,
    "organ": _organ,
    "strings": _strings,
    "pad": _pad,
    "saw lead": _saw_lead,
    "flute": _flute,
    "bass": _bass,
    "lead bass": _lead_bass,
}


def _drum_kit(sr: int, rng: np.random.Generator, brightness: float) -> dict[str, np.ndarray]:
    t_kick = _time(int(0.4 * sr), sr)
    sweep = 45.0 + 110.0 * np.exp(t_kick * np.float32(-1 / 0.035))
    kick = np.sin(_cycles(sweep, sr) * np.float32(2 * np.pi)) * np.exp(t_kick * np.float32(-1 / 0.16))
    click_n = int(0.004 * sr)
    kick[:click_n] += (
        0.4 * rng.standard_normal(click_n).astype(np.float32) * np.linspace(1, 0, click_n, dtype=np.float32)
    )

    t_snare = _time(int(0.3 * sr), sr)
    noise = signal.sosfilt(_butter(2, 1200.0, sr, "highpass"), rng.standard_normal(len(t_snare))).astype(np.float32)
    snare = 0.4 * noise * np.exp(t_snare * np.float32(-1 / 0.07)) + 0.6 * np.sin(
        t_snare * np.float32(2 * np.pi * 185)
    ) * np.exp(t_snare * np.float32(-1 / 0.04))

    t_hat = _time(int(0.09 * sr), sr)
    hat_noise = signal.sosfilt(
        _butter(4, 6000.0 + 2000.0 * brightness, sr, "highpass"), rng.standard_normal(len(t_hat))
    )
    hat = hat_noise.astype(np.float32) * np.exp(t_hat * np.float32(-1 / 0.018))
    return {"kick": kick.astype(np.float32), "snare": snare.astype(np.float32), "hat": hat.astype(np.float32)}


# --------------------------------------------------------------------------------------------------------------------
# Effects and mastering.


def _reverb(dry: np.ndarray, amount: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Convolution with a synthetic stereo impulse response: exponentially decaying noise, darker as it decays."""
    if amount <= 0.0:
        return dry
    rt60 = 0.3 + 2.7 * amount
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    predelay = int(0.012 * sr)
    decay = np.exp(-6.91 * t / rt60)
    impulse = np.zeros((n + predelay, 2))
    for channel in range(2):
        bright = rng.standard_normal(n)
        dark = signal.sosfilt(_butter(2, 2500.0, sr, "lowpass"), rng.standard_normal(n)) * 2.0
        # Crossfade from bright to dark noise: high frequencies die first, as in a real room.
        fade = np.exp(-t / (0.25 * rt60))
        impulse[predelay:, channel] = (fade * bright + (1.0 - fade) * dark) * decay
    impulse /= np.sqrt(np.sum(impulse**2, axis=0, keepdims=True))
    wet = signal.oaconvolve(dry, impulse, axes=0)[: len(dry)]
    return ((1.0 - 0.35 * amount) * dry + 0.8 * amount * wet).astype(np.float32)


def _shelf(gain_db: float, freq_hz: float, sr: int, kind: str) -> np.ndarray:
    """RBJ cookbook shelving biquad (S = 1) as one second-order section."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sr
    cos_w0 = math.cos(w0)
    alpha = math.sin(w0) / 2.0 * math.sqrt(2.0)
    sqrt_a = math.sqrt(a)
    if kind == "low":
        b = [
            a * ((a + 1) - (a - 1) * cos_w0 + 2 * sqrt_a * alpha),
            2 * a * ((a - 1) - (a + 1) * cos_w0),
            a * ((a + 1) - (a - 1) * cos_w0 - 2 * sqrt_a * alpha),
        ]
        den = [
            (a + 1) + (a - 1) * cos_w0 + 2 * sqrt_a * alpha,
            -2 * ((a - 1) + (a + 1) * cos_w0),
            (a + 1) + (a - 1) * cos_w0 - 2 * sqrt_a * alpha,
        ]
    else:
        b = [
            a * ((a + 1) + (a - 1) * cos_w0 + 2 * sqrt_a * alpha),
            -2 * a * ((a - 1) + (a + 1) * cos_w0),
            a * ((a + 1) + (a - 1) * cos_w0 - 2 * sqrt_a * alpha),
        ]
        den = [
            (a + 1) - (a - 1) * cos_w0 + 2 * sqrt_a * alpha,
            2 * ((a - 1) - (a + 1) * cos_w0),
            (a + 1) - (a - 1) * cos_w0 - 2 * sqrt_a * alpha,
        ]
    return np.array([[b[0] / den[0], b[1] / den[0], b[2] / den[0], 1.0, den[1] / den[0], den[2] / den[0]]])


def _eq_tilt(x: np.ndarray, tilt_db: float, sr: int) -> np.ndarray:
    """Tilt around ~1 kHz: half the tilt cut from the lows, half added to the highs (negative tilt darkens)."""
    sos = np.vstack(
        [
            _butter(2, 28.0, sr, "highpass"),
            _shelf(-tilt_db / 2, 250.0, sr, "low"),
            _shelf(tilt_db / 2, 4000.0, sr, "high"),
        ]
    )
    return signal.sosfilt(sos, x, axis=0).astype(np.float32)


def _one_pole(x: np.ndarray, time_constant_s: float, sr: int) -> np.ndarray:
    pole = math.exp(-1.0 / (time_constant_s * sr))
    return signal.lfilter([1.0 - pole], [1.0, -pole], x)


def _compress(x: np.ndarray, amount: float, sr: int) -> np.ndarray:
    """Feed-forward RMS compressor; the gain is smoothed with a one-pole filter, so no per-sample Python loop."""
    if amount <= 0.0:
        return x
    threshold_db = -14.0 - 12.0 * amount
    ratio = 1.0 + 5.0 * amount
    power = _one_pole(np.max(x.astype(np.float64) ** 2, axis=1), 0.012, sr)
    level_db = 10.0 * np.log10(power + 1e-12)
    over = np.maximum(level_db - threshold_db, 0.0)
    gain_db = -over * (1.0 - 1.0 / ratio)
    gain = 10.0 ** (_one_pole(gain_db, 0.06, sr) / 20.0)
    return (x * gain[:, None]).astype(np.float32)


def _limit(x: np.ndarray, ceiling: float, sr: int) -> np.ndarray:
    """Look-ahead peak limiter: the smoothed gain never exceeds what each sample needs, so peaks stay under ceiling."""
    window = max(int(0.005 * sr), 1)
    peak = np.max(np.abs(x), axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
    # A moving average over w/2 of a minimum over 2w stays below the needed gain at every sample.
    floor = ndimage.minimum_filter1d(needed, size=2 * window + 1, mode="nearest")
    gain = ndimage.uniform_filter1d(floor, size=window | 1, mode="nearest")
    out = x * gain[:, None]
    top = float(np.max(np.abs(out))) if out.size else 0.0
    if top > ceiling:
        out *= ceiling / top
    return out.astype(np.float32)


def _stereo_width(x: np.ndarray, width: float) -> np.ndarray:
    mid = (x[:, 0] + x[:, 1]) * 0.5
    side = (x[:, 0] - x[:, 1]) * 0.5 * width
    return np.stack([mid + side, mid - side], axis=1).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _master(mix: np.ndarray, spec: MusicSpec, sr: int, rng: np.random.Generator) -> np.ndarray:
    wet = _reverb(mix, spec.reverb_amount, sr, rng)
    shaped = _eq_tilt(wet, spec.eq_tilt_db, sr)
    level = _rms(shaped)
    if level > 0:
        shaped = shaped * np.float32(10 ** (-18 / 20) / level)
    compressed = _compress(shaped, spec.compression, sr)
    widened = _stereo_width(compressed, spec.stereo_width)
    level = _rms(widened)
    if level > 0:
        widened = widened * np.float32(10 ** (-15 / 20) / level)
    return _limit(widened, 10 ** (-1 / 20), sr)


def render(spec: MusicSpec, *, sample_rate: int = 44100, seed: int) -> np.ndarray:
    """Render a spec to stereo float32 audio of shape (samples, 2) in [-1, 1]; the same seed gives the same samples.

    The seed picks the progression, melody, humanisation and noise; the spec fixes everything a prompt names.
    """
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    rng = np.random.default_rng(seed)
    notes = _compose(spec, rng)
    n = int(round(spec.duration_s * sample_rate))
    tail = int(1.5 * sample_rate)
    mix = np.zeros((n + tail, 2), dtype=np.float32)
    brightness = _STYLES[spec.mood].brightness
    kit = _drum_kit(sample_rate, rng, brightness) if any(note.timbre == "kick" for note in notes) else {}
    for note in notes:
        start = max(int(round(note.start_s * sample_rate)), 0)
        if note.timbre in kit:
            sound = kit[note.timbre] * np.float32(note.velocity)
        else:
            sound = _TIMBRES[note.timbre](note.midi, note.hold_s, note.velocity, brightness, sample_rate, rng)
        stop = min(start + len(sound), len(mix))
        if stop <= start:
            continue
        # Constant-power panning.
        angle = (note.pan + 1.0) * math.pi / 4.0
        segment = sound[: stop - start] * np.float32(note.gain)
        mix[start:stop, 0] += segment * np.float32(math.cos(angle))
        mix[start:stop, 1] += segment * np.float32(math.sin(angle))
    mastered = _master(mix, spec, sample_rate, rng)[:n]
    fade_in = min(int(0.005 * sample_rate), n)
    fade_out = min(int(0.3 * sample_rate), n)
    mastered[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)[:, None]
    mastered[n - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)[:, None]
    return np.clip(mastered, -1.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Degradations.


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at exactly snr_db below the signal's power; the result is not clipped."""
    signal_power = float(np.mean(np.square(x, dtype=np.float64)))
    if signal_power == 0.0:
        return x.astype(np.float32, copy=True)
    noise = rng.standard_normal(x.shape)
    noise *= math.sqrt(signal_power / 10.0 ** (snr_db / 10.0) / float(np.mean(noise**2)))
    return (x + noise).astype(np.float32)


def hard_clip(x: np.ndarray, fraction: float) -> np.ndarray:
    """Clip at the level that flattens the given fraction of samples, then restore the original peak (overdriven)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    magnitude = np.abs(x)
    peak = float(magnitude.max()) if x.size else 0.0
    if fraction == 0.0 or peak == 0.0:
        return x.astype(np.float32, copy=True)
    threshold = float(np.quantile(magnitude, 1.0 - fraction))
    if threshold <= 0.0:
        return x.astype(np.float32, copy=True)
    return (np.clip(x, -threshold, threshold) * (peak / threshold)).astype(np.float32)


def band_limit(x: np.ndarray, cutoff_hz: float, sr: int) -> np.ndarray:
    """Remove everything above cutoff_hz (FFT brick wall with a short raised-cosine skirt just below the cutoff)."""
    if not 0.0 < cutoff_hz < sr / 2.0:
        raise ValueError(f"cutoff_hz must lie in (0, {sr / 2}), got {cutoff_hz}")
    n = x.shape[0]
    spectrum = np.fft.rfft(x, axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    skirt = max(0.05 * cutoff_hz, 20.0)
    response = np.clip((cutoff_hz - freqs) / skirt, 0.0, 1.0)
    response = 0.5 - 0.5 * np.cos(np.pi * response)
    shape = (-1,) + (1,) * (x.ndim - 1)
    return np.fft.irfft(spectrum * response.reshape(shape), n=n, axis=0).astype(np.float32)


def detune(x: np.ndarray, cents: float, sr: int, *, wobble_hz: float = 0.6) -> np.ndarray:
    """Tape-wow pitch wobble: the pitch swings sinusoidally by up to ±cents; length and mean pitch are kept."""
    if cents == 0.0:
        return x.astype(np.float32, copy=True)
    n = x.shape[0]
    omega = 2.0 * math.pi * wobble_hz / sr
    # Read position p(n) = n + A sin(omega n) has rate 1 + A omega cos(omega n): A omega is the peak rate deviation.
    depth = (2.0 ** (abs(cents) / 1200.0) - 1.0) / omega
    positions = np.clip(np.arange(n) + depth * np.sin(omega * np.arange(n)), 0, n - 1)
    if x.ndim == 1:
        return np.interp(positions, np.arange(n), x).astype(np.float32)
    grid = np.arange(n)
    return np.stack([np.interp(positions, grid, x[:, c]) for c in range(x.shape[1])], axis=1).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Demo systems.


@dataclass(frozen=True)
class SystemProfile:
    """A simulated music generator: how faithfully it follows prompts and which artefacts its audio carries.

    true_strength is the system's Bradley-Terry log-strength used by the vote simulation: P(i beats j) =
    1 / (1 + exp(s_j - s_i)); musicality_strength is the same for how good the audio sounds, whatever the prompt.
    """

    slug: str
    name: str
    organisation: str
    description: str
    noise_snr_db: float | None = None
    clip_fraction: float | None = None
    cutoff_hz: float | None = None
    detune_cents: float | None = None
    prompt_fidelity: float = 1.0
    true_strength: float = 0.0
    musicality_strength: float = 0.0


# Expected ranking, best to worst, and why:
#  1. aurora      - clean, always follows the prompt.
#  2. brightline  - follows the prompt; faint hiss at 32 dB SNR, audible only in quiet passages.
#  3. muffle      - follows the prompt; band-limited to 4 kHz, dull like a low-bitrate stream.
#  4. wowflutter  - follows the prompt; ±35 cent tape wow, seasick pitch.
#  5. wanderer    - clean audio, but each of tempo/mode/instrument/mood follows the prompt only 35% of the time.
#  6. crunchbox   - 6% of samples hard-clipped, 14 dB SNR noise and a 6 kHz band limit: harsh and noisy.
DEMO_SYSTEMS: tuple[SystemProfile, ...] = (
    SystemProfile(
        slug="aurora",
        name="Aurora",
        organisation="Northlight Audio Lab",
        description="Clean, prompt-faithful reference generator (expected rank 1).",
        prompt_fidelity=1.0,
        true_strength=1.0,
        musicality_strength=1.0,
    ),
    SystemProfile(
        slug="brightline",
        name="Brightline",
        organisation="Brightline Studio",
        description="Faithful to prompts with a faint noise floor at 32 dB SNR (expected rank 2).",
        noise_snr_db=32.0,
        prompt_fidelity=0.97,
        true_strength=0.6,
        musicality_strength=0.6,
    ),
    SystemProfile(
        slug="muffle",
        name="Muffle",
        organisation="Lowpass Collective",
        description="Faithful to prompts but band-limited to 4 kHz, dull like a low-bitrate stream (expected rank 3).",
        cutoff_hz=4000.0,
        prompt_fidelity=0.95,
        true_strength=0.2,
        musicality_strength=0.2,
    ),
    SystemProfile(
        slug="wowflutter",
        name="Wow & Flutter",
        organisation="Cassette Works",
        description="Faithful to prompts with a ±35 cent tape-wow pitch wobble (expected rank 4).",
        detune_cents=35.0,
        prompt_fidelity=0.95,
        true_strength=-0.2,
        musicality_strength=-0.2,
    ),
    SystemProfile(
        slug="wanderer",
        name="Wanderer",
        organisation="Freeform AI",
        description="Clean audio that mostly ignores the prompt's tempo, mode, instrument and mood (expected rank 5).",
        prompt_fidelity=0.35,
        true_strength=-0.6,
        # Its audio is as clean as Aurora's: only the prompt-alignment axis gives it away.
        musicality_strength=1.0,
    ),
    SystemProfile(
        slug="crunchbox",
        name="Crunchbox",
        organisation="Overdrive Labs",
        description="Heavily clipped, noisy and band-limited output (expected rank 6).",
        noise_snr_db=14.0,
        clip_fraction=0.06,
        cutoff_hz=6000.0,
        prompt_fidelity=0.9,
        true_strength=-1.0,
        musicality_strength=-1.0,
    ),
)

# The ranking a vote simulation on true_strength should recover, best first.
EXPECTED_RANKING: tuple[str, ...] = tuple(p.slug for p in sorted(DEMO_SYSTEMS, key=lambda p: -p.true_strength))


def system_spec(profile: SystemProfile, spec: MusicSpec, rng: np.random.Generator) -> MusicSpec:
    """What the system actually renders: each of tempo, mode, instrument and mood follows the prompt with
    probability prompt_fidelity and is otherwise replaced by a different one drawn at random."""
    follows = rng.random(4) < profile.prompt_fidelity
    tempo = spec.tempo_bpm
    if not follows[0]:
        # At least 20 BPM away, so an unfaithful tempo is audibly wrong.
        candidates = [t for t in range(60, 181) if abs(t - spec.tempo_bpm) >= 20]
        tempo = int(rng.choice(candidates))
    mode = spec.mode if follows[1] else next(m for m in MODES if m != spec.mode)
    instrument = spec.instrument if follows[2] else str(rng.choice([i for i in INSTRUMENTS if i != spec.instrument]))
    mood = spec.mood if follows[3] else str(rng.choice([m for m in MOODS if m != spec.mood]))
    with_drums = spec.with_drums or instrument == "bass + drums"
    return replace(spec, tempo_bpm=tempo, mode=mode, instrument=instrument, mood=mood, with_drums=with_drums)


def degrade(profile: SystemProfile, x: np.ndarray, *, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Apply the profile's artefacts in signal-chain order (wow, band limit, clipping, noise), peaks kept <= 1."""
    out = x.astype(np.float32, copy=True)
    if profile.detune_cents:
        out = detune(out, profile.detune_cents, sample_rate)
    if profile.cutoff_hz:
        out = band_limit(out, profile.cutoff_hz, sample_rate)
    if profile.clip_fraction:
        out = hard_clip(out, profile.clip_fraction)
    if profile.noise_snr_db is not None:
        out = add_noise(out, profile.noise_snr_db, rng)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 1.0:
        # One gain for the whole clip keeps the measured SNR and clipped fraction intact.
        out /= np.float32(peak)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def render_system_clip(profile: SystemProfile, spec: MusicSpec, *, sample_rate: int = 44100, seed: int) -> np.ndarray:
    """The clip a demo system produces for a prompt: its (possibly unfaithful) spec rendered, then its artefacts."""
    rng = np.random.default_rng(seed)
    realised = system_spec(profile, spec, rng)
    audio = render(realised, sample_rate=sample_rate, seed=int(rng.integers(2**31)))
    return degrade(profile, audio, sample_rate=sample_rate, rng=rng)
