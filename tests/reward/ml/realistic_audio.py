"""Stand-ins for real recordings the reward model has never seen, made WITHOUT demo/synth.py:
Karplus–Strong guitar strums through body resonances, inharmonic piano tones with hammer noise,
breathy formant singing with sibilants, brushed drum loops, a plucked bass, all played in a room
(early reflections plus a frequency-dependent decaying tail), mixed mono or stereo at
22.05/44.1/48 kHz, 5–30 s long, at varied levels over a faint recording noise floor."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

SAMPLE_RATES = (22_050, 44_100, 48_000)
# Major-scale degrees (semitones above the tonic) and the triads built on them.
_SCALE = (0, 2, 4, 5, 7, 9, 11)
_PROGRESSIONS = ((0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 4, 5, 3), (1, 4, 0, 0))
_VOWEL_FORMANTS = {
    # (F1, F2, F3, F4) in Hz and bandwidths, roughly a soprano/tenor average.
    "a": ((800, 1150, 2800, 3500), (80, 90, 120, 130)),
    "e": ((400, 1900, 2600, 3300), (60, 80, 100, 120)),
    "i": ((300, 2250, 3000, 3700), (50, 90, 110, 130)),
    "o": ((450, 800, 2830, 3500), (70, 80, 100, 130)),
    "u": ((325, 700, 2530, 3500), (50, 60, 170, 180)),
}


@dataclass(frozen=True)
class RealisticClip:
    """One stand-in recording: samples (frames, channels) float32, its rate and what is in it."""

    samples: np.ndarray
    sample_rate: int
    description: str

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _place(track: np.ndarray, sound: np.ndarray, start: int) -> None:
    if start >= track.shape[0]:
        return
    end = min(track.shape[0], start + sound.shape[0])
    track[start:end] += sound[: end - start]


def _resonator(freq: float, bandwidth: float, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-pole resonator coefficients with unity gain near its peak."""
    radius = math.exp(-math.pi * bandwidth / rate)
    theta = 2 * math.pi * freq / rate
    a = np.array([1.0, -2 * radius * math.cos(theta), radius * radius])
    b = np.array([1.0 - radius, 0.0, 0.0])
    return b, a


# Instruments ---------------------------------------------------------------------------------


def karplus_strong(
    *, freq: float, seconds: float, rate: int, rng: np.random.Generator, brightness: float, decay: float
) -> np.ndarray:
    """A plucked string: a noise burst circulating in a delay line with a lossy averaging loop."""
    period = max(int(round(rate / freq)), 2)
    length = int(seconds * rate)
    burst = rng.uniform(-1, 1, period)
    # Brightness: how much of the pick's high frequencies survive into the string.
    b, a = signal.butter(1, min(brightness, 0.45 * rate), fs=rate)
    burst = signal.lfilter(b, a, burst)
    # Pick position: a comb notch, as plucking near the bridge or the neck sounds.
    pick = max(1, int(period * rng.uniform(0.1, 0.3)))
    burst = burst - np.roll(burst, pick) * 0.8
    out = np.zeros(length + 2 * period)
    out[:period] = burst
    gain = decay ** (1.0 / max(freq, 1.0))
    blocks = math.ceil(length / period) + 1
    for index in range(1, blocks):
        start = index * period
        previous = out[start - period : start]
        before = np.concatenate([[out[start - period - 1] if start - period - 1 >= 0 else 0.0], previous[:-1]])
        out[start : start + period] += 0.5 * gain * (previous + before)
    tail = np.linspace(1.0, 0.0, min(length, int(0.01 * rate)))
    sound = out[:length]
    sound[length - tail.shape[0] :] *= tail
    return sound


def guitar_body(*, sound: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Colour a string through a few body and top-plate resonances mixed with the direct sound."""
    out = 0.6 * sound
    for freq, bandwidth, gain in ((100, 25, 0.9), (205, 40, 0.7), (390, 70, 0.4), (2800, 900, 0.15)):
        b, a = _resonator(freq * rng.uniform(0.92, 1.08), bandwidth, rate)
        out = out + gain * signal.lfilter(b, a, sound) * 4
    return out


def piano_note(*, freq: float, seconds: float, rate: int, rng: np.random.Generator, velocity: float) -> np.ndarray:
    """Additive partials with string inharmonicity, two-stage decay, unison beating and a hammer thump."""
    length = int(seconds * rate)
    # float32 throughout: phase errors stay below 0.01 rad for these lengths, far under audibility.
    time = (np.arange(length) / rate).astype(np.float32)
    stiffness = rng.uniform(1e-4, 6e-4)
    out = np.zeros(length, dtype=np.float32)
    partials = int(min(20, (0.45 * rate) // (freq * 1.05)))
    two_pi = np.float32(2 * math.pi)
    for n in range(1, partials + 1):
        partial = n * freq * math.sqrt(1 + stiffness * n * n)
        if partial >= 0.45 * rate:
            break
        amplitude = velocity ** (1 + 0.15 * n) / n ** (1.2 - 0.4 * velocity)
        fast = 2.0 + 0.9 * n + freq / 300
        slow = 0.4 + 0.15 * n
        # Stop each partial once it has decayed by 60 dB: the rest is inaudible.
        span = min(length, int(rate * 60 / (8.7 * slow)))
        t = time[:span]
        envelope = np.float32(0.65) * np.exp(np.float32(-fast) * t) + np.float32(0.35) * np.exp(np.float32(-slow) * t)
        detune = 1 + rng.uniform(-0.0008, 0.0008)
        phase = np.float32(rng.uniform(0, 2 * math.pi))
        strings = np.sin(two_pi * np.float32(partial) * t + phase)
        strings += np.float32(0.7) * np.sin(two_pi * np.float32(partial * detune) * t)
        out[:span] += np.float32(amplitude) * envelope * strings
    thump_len = int(0.03 * rate)
    thump = rng.standard_normal(thump_len) * np.exp(-np.arange(thump_len) / (0.004 * rate))
    b, a = signal.butter(2, [min(200 + freq, 0.4 * rate), min(4000 + 4 * freq, 0.45 * rate)], "bandpass", fs=rate)
    out[:thump_len] += 0.15 * velocity * signal.lfilter(b, a, thump)
    release = np.ones(length)
    fade = min(length, int(0.08 * rate))
    release[length - fade :] = np.linspace(1, 0, fade)
    return out * release


def bass_note(*, freq: float, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A finger-plucked bass: a dark Karplus–Strong string with a soft low-pass."""
    string = karplus_strong(freq=freq, seconds=seconds, rate=rate, rng=rng, brightness=900, decay=0.3)
    b, a = signal.butter(2, 1500, fs=rate)
    return signal.lfilter(b, a, string)


def sung_phrase(
    *, notes: list[tuple[float, float, float]], rate: int, rng: np.random.Generator, breathiness: float
) -> np.ndarray:
    """Breathy formant vowels on a melody (start s, length s, midi note), with vibrato, jitter,
    aspiration noise and sibilant consonants between syllables."""
    total = int((max(start + length for start, length, _ in notes) + 0.5) * rate)
    out = np.zeros(total)
    for start, length, note in notes:
        count = int(length * rate)
        time = np.arange(count) / rate
        vibrato = 0.35 * np.sin(2 * math.pi * rng.uniform(4.5, 6.5) * time) * np.clip(time / 0.3, 0, 1)
        jitter = np.cumsum(rng.standard_normal(count)) / math.sqrt(rate) * 0.3
        f0 = _midi_hz(note + vibrato + jitter * 0.1)
        phase = 2 * math.pi * np.cumsum(f0) / rate
        source = np.zeros(count)
        harmonics = int(min(60, (0.45 * rate) // (_midi_hz(note) * 1.1)))
        for k in range(1, harmonics + 1):
            # Glottal spectrum falls about 12 dB per octave.
            source += np.sin(k * phase) / (k * k) ** 0.9
        pulse_gate = 0.5 + 0.5 * np.cos(phase)
        aspiration = rng.standard_normal(count) * pulse_gate * breathiness * 0.4
        excitation = source + aspiration
        vowel = str(rng.choice(list(_VOWEL_FORMANTS)))
        freqs, widths = _VOWEL_FORMANTS[vowel]
        voiced = np.zeros(count)
        for index, (freq, width) in enumerate(zip(freqs, widths, strict=True)):
            b, a = _resonator(freq * rng.uniform(0.95, 1.05), width, rate)
            voiced += signal.lfilter(b, a, excitation) * (1.0, 0.6, 0.25, 0.15)[index] * 6
        attack = np.clip(time / rng.uniform(0.03, 0.09), 0, 1)
        release = np.clip((length - time) / 0.08, 0, 1)
        _place(out, voiced * attack * release, int(start * rate))
        if rng.random() < 0.45:
            hiss_len = int(rng.uniform(0.05, 0.12) * rate)
            low = rng.uniform(3500, 5500)
            b, a = signal.butter(4, [low, min(low * 2.2, 0.45 * rate)], "bandpass", fs=rate)
            hiss = signal.lfilter(b, a, rng.standard_normal(hiss_len)) * np.hanning(hiss_len) * 0.25
            _place(out, hiss, max(0, int(start * rate) - hiss_len // 2))
    return out


def drum_loop(
    *, seconds: float, tempo: float, rate: int, rng: np.random.Generator, brushed: bool
) -> np.ndarray:
    """Kick, snare (brush swish or stick), hi-hat and ride from filtered noise and tuned sweeps,
    with swing and uneven velocities."""
    length = int(seconds * rate)
    out = np.zeros(length)
    beat = 60.0 / tempo
    swing = rng.uniform(0.0, 0.12) * beat
    # Kick: a falling sine with a click.
    kick_len = int(0.35 * rate)
    kick_t = np.arange(kick_len) / rate
    kick_f = 45 + 70 * np.exp(-kick_t * 30)
    kick = np.sin(2 * math.pi * np.cumsum(kick_f) / rate) * np.exp(-kick_t * 9)
    kick[: int(0.003 * rate)] += rng.standard_normal(int(0.003 * rate)) * 0.3
    # Snare: brushes are long swishes of band-passed noise, sticks a short crack with a body tone.
    snare_len = int((0.25 if brushed else 0.18) * rate)
    snare_t = np.arange(snare_len) / rate
    b, a = signal.butter(2, [1800, min(9000, 0.45 * rate)], "bandpass", fs=rate)
    if brushed:
        snare_env = np.clip(snare_t / 0.04, 0, 1) * np.exp(-snare_t * 14)
        snare = signal.lfilter(b, a, rng.standard_normal(snare_len)) * snare_env * 0.6
    else:
        snare = signal.lfilter(b, a, rng.standard_normal(snare_len)) * np.exp(-snare_t * 28)
        snare += 0.5 * np.sin(2 * math.pi * 190 * snare_t) * np.exp(-snare_t * 35)
    # Hi-hat: short high-passed noise.
    hat_len = int(0.06 * rate)
    b_hat, a_hat = signal.butter(4, min(7000, 0.4 * rate), "highpass", fs=rate)
    hat = signal.lfilter(b_hat, a_hat, rng.standard_normal(hat_len)) * np.exp(-np.arange(hat_len) / (0.012 * rate))
    # Ride: inharmonic metal partials plus shimmer noise, long decay.
    ride_len = int(1.2 * rate)
    ride_t = np.arange(ride_len) / rate
    ride = np.zeros(ride_len)
    for ratio in (1.0, 1.47, 1.73, 2.31, 2.89, 3.41):
        freq = 520 * ratio * rng.uniform(0.97, 1.03)
        if freq < 0.45 * rate:
            ride += np.sin(2 * math.pi * freq * ride_t + rng.uniform(0, 6.28)) / ratio
    ride = 0.2 * ride * np.exp(-ride_t * 3) + 0.2 * signal.lfilter(
        b_hat, a_hat, rng.standard_normal(ride_len)
    ) * np.exp(-ride_t * 4)
    use_ride = rng.random() < 0.4
    step = 0
    time = 0.0
    while time < seconds:
        position = int(time * rate)
        eighth = step % 8
        offbeat = step % 2 == 1
        shift = int((swing if offbeat else 0.0) * rate)
        velocity = rng.uniform(0.6, 1.0)
        if eighth in (0, 4) or (eighth == 5 and rng.random() < 0.3):
            _place(out, kick * velocity, position + shift)
        if eighth in (2, 6):
            _place(out, snare * velocity, position + shift)
        if use_ride:
            if not offbeat or rng.random() < 0.5:
                _place(out, ride * velocity * 0.6, position + shift)
        else:
            _place(out, hat * velocity * (0.5 if offbeat else 0.8), position + shift)
        step += 1
        time += beat / 2
    return out


# The room and the mix ------------------------------------------------------------------------


def room_impulse_response(*, rate: int, rt60: float, rng: np.random.Generator, channels: int) -> np.ndarray:
    """A measured-style room response: direct sound, sparse early reflections, then a noise tail
    whose high frequencies die faster than its lows. Shape (length, channels)."""
    length = int(min(rt60 * 1.2, 2.5) * rate)
    time = np.arange(length) / rate
    responses = []
    for _ in range(channels):
        response = np.zeros(length)
        response[0] = 1.0
        for _ in range(int(rng.integers(6, 14))):
            delay = int(rng.uniform(0.004, 0.06) * rate)
            response[delay] += rng.uniform(-0.6, 0.6)
        noise = rng.standard_normal(length)
        low = signal.lfilter(*signal.butter(1, 1500, fs=rate), noise)
        high = noise - low
        decay_low = np.exp(-6.9 * time / rt60)
        decay_high = np.exp(-6.9 * time / (rt60 * 0.55))
        onset = np.clip((time - 0.015) / 0.02, 0, 1)
        tail = (low * decay_low + high * decay_high) * onset
        response += tail * rng.uniform(0.25, 0.6) * math.sqrt(1.0 / max(rt60 * rate * 0.05, 1.0)) * 6
        responses.append(response)
    return np.stack(responses, axis=1)


def _compress(mix: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A gentle feed-forward bus compressor on the summed envelope (not every recording has one)."""
    envelope = np.abs(mix).max(axis=1)
    b, a = signal.butter(1, 8.0, fs=rate)
    smooth = signal.lfilter(b, a, envelope) + 1e-9
    threshold = np.quantile(smooth, rng.uniform(0.6, 0.85))
    ratio = rng.uniform(1.5, 3.0)
    gain = np.where(smooth > threshold, (smooth / threshold) ** (1 / ratio - 1), 1.0)
    return mix * gain[:, None]


def _chords(rng: np.random.Generator) -> tuple[int, list[list[int]]]:
    tonic = int(rng.integers(40, 52))
    progression = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
    chords = []
    for degree in progression:
        triad = [_SCALE[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]
        chords.append([tonic + 12 + note for note in triad])
    return tonic, chords


ENSEMBLES = (
    ("guitar", "voice"),
    ("piano",),
    ("piano", "voice"),
    ("drums", "bass", "guitar"),
    ("voice", "guitar", "bass"),
    ("drums", "bass", "piano"),
    ("guitar",),
    ("drums", "piano", "voice"),
)


def realistic_clip(
    *, seed: int, duration_s: float | None = None, ensemble: tuple[str, ...] | None = None
) -> RealisticClip:
    """One stand-in recording, fully determined by `seed`."""
    rng = np.random.default_rng(seed)
    rate = int(rng.choice(SAMPLE_RATES, p=[0.2, 0.45, 0.35]))
    seconds = float(duration_s if duration_s is not None else rng.uniform(5.0, 30.0))
    if ensemble is None:
        ensemble = ENSEMBLES[int(rng.integers(0, len(ENSEMBLES)))]
    channels = 2 if rng.random() < 0.65 else 1
    tempo = float(rng.uniform(70, 140))
    beat = 60.0 / tempo
    bar = 4 * beat
    tonic, chords = _chords(rng)
    length = int(seconds * rate)
    stems: list[tuple[np.ndarray, float, float]] = []  # (mono stem, level, pan)

    if "guitar" in ensemble:
        track = np.zeros(length)
        strum_pattern = [0.0, 1.0, 1.5, 2.5, 3.0, 3.5] if rng.random() < 0.6 else [0.0, 2.0]
        # Three takes of each string and fret, reused: the strings differ by pick noise, not per strum.
        plucks: dict[tuple[int, int], np.ndarray] = {}
        time, index = 0.0, 0
        while time < seconds:
            chord = chords[index % len(chords)]
            voicing = [tonic + 12 - 5] + chord + [chord[0] + 12, chord[1] + 12]
            for beat_offset in strum_pattern:
                start = time + beat_offset * beat
                down = rng.random() < 0.7
                order = voicing if down else voicing[::-1]
                spread = rng.uniform(0.008, 0.03)
                velocity = rng.uniform(0.5, 1.0) * (1.0 if down else 0.7)
                for string, note in enumerate(order):
                    key = (note, int(rng.integers(0, 3)))
                    if key not in plucks:
                        plucks[key] = karplus_strong(
                            freq=_midi_hz(note), seconds=min(2.0, beat * 2.2), rate=rate, rng=rng,
                            brightness=rng.uniform(2500, 7000), decay=rng.uniform(0.02, 0.15),
                        )
                    _place(track, plucks[key] * velocity, int((start + string * spread) * rate))
            time += bar
            index += 1
        stems.append((guitar_body(sound=track, rate=rate, rng=rng), 1.0, rng.uniform(-0.5, 0.5)))

    if "piano" in ensemble:
        track = np.zeros(length)
        # A piano repeats itself: one rendering per key, reused like a sampler, damped early for short notes.
        tones: dict[int, np.ndarray] = {}

        def piano(note: int, velocity: float, seconds_long: float) -> np.ndarray:
            if note not in tones:
                tones[note] = piano_note(freq=_midi_hz(note), seconds=3.0, rate=rate, rng=rng, velocity=0.6)
            tone = tones[note][: int(seconds_long * rate)] * (velocity / 0.6)
            damper = min(tone.shape[0], int(0.08 * rate))
            tone[tone.shape[0] - damper :] *= np.linspace(1.0, 0.0, damper)
            return tone

        time, index = 0.0, 0
        while time < seconds:
            chord = chords[index % len(chords)]
            for note in [chord[0] - 12] + chord:
                _place(track, piano(note, rng.uniform(0.35, 0.7), min(3.0, bar * 1.1)), int(time * rate))
            # A right-hand melody over the chord.
            for step in range(int(rng.integers(2, 6))):
                start = time + step * bar / 4 + rng.uniform(0, 0.02)
                note = chord[int(rng.integers(0, 3))] + 12
                _place(track, piano(note, rng.uniform(0.5, 0.9), 1.2), int(start * rate))
            time += bar
            index += 1
        stems.append((track, 0.9, rng.uniform(-0.3, 0.3)))

    if "bass" in ensemble:
        track = np.zeros(length)
        time, index = 0.0, 0
        while time < seconds:
            root = chords[index % len(chords)][0] - 24
            for step in range(4):
                note = root + (7 if step == 2 and rng.random() < 0.5 else 0)
                _place(track, bass_note(freq=_midi_hz(note), seconds=beat * 0.95, rate=rate, rng=rng),
                       int((time + step * beat) * rate))
            time += bar
            index += 1
        stems.append((track, 0.8, 0.0))

    if "drums" in ensemble:
        track = drum_loop(seconds=seconds, tempo=tempo, rate=rate, rng=rng, brushed=bool(rng.random() < 0.6))
        stems.append((track, 0.7, rng.uniform(-0.15, 0.15)))

    if "voice" in ensemble:
        notes: list[tuple[float, float, float]] = []
        time, index = rng.uniform(0.2, 1.0), 0
        while time < seconds - 0.5:
            chord = chords[int(time // bar) % len(chords)]
            length_s = float(rng.choice([0.5, 1.0, 1.5, 2.0])) * beat
            note = chord[int(rng.integers(0, 3))] + (12 if rng.random() < 0.5 else 0)
            notes.append((time, min(length_s, seconds - time - 0.1), note))
            time += length_s + (beat * 0.5 if rng.random() < 0.2 else 0.02)
            index += 1
        if notes:
            voice = sung_phrase(notes=notes, rate=rate, rng=rng, breathiness=rng.uniform(0.1, 0.6))[:length]
            track = np.zeros(length)
            track[: voice.shape[0]] = voice
            stems.append((track, 1.1, rng.uniform(-0.1, 0.1)))

    mix = np.zeros((length, channels))
    for stem, level, pan in stems:
        stem = stem / max(float(np.sqrt(np.mean(stem**2))), 1e-9) * level * rng.uniform(0.7, 1.3)
        if channels == 2:
            mix[:, 0] += stem * math.sqrt(0.5 * (1 - pan))
            mix[:, 1] += stem * math.sqrt(0.5 * (1 + pan))
        else:
            mix[:, 0] += stem
    rt60 = float(rng.uniform(0.3, 2.0))
    response = room_impulse_response(rate=rate, rt60=rt60, rng=rng, channels=channels)
    wet = np.stack([signal.fftconvolve(mix[:, c], response[:, c])[:length] for c in range(channels)], axis=1)
    wet_mix = float(rng.uniform(0.15, 0.5))
    mix = (1 - wet_mix) * mix + wet_mix * wet / max(float(np.sqrt(np.mean(wet**2))), 1e-9) * float(
        np.sqrt(np.mean(mix**2))
    )
    compressed = rng.random() < 0.5
    if compressed:
        mix = _compress(mix, rate, rng)
    fade = np.ones(length)
    ramp = int(0.02 * rate)
    fade[:ramp] = np.linspace(0, 1, ramp)
    fade[-ramp:] = np.linspace(1, 0, ramp)
    mix *= fade[:, None]
    peak_dbfs = float(rng.uniform(-20.0, -3.0))
    mix = mix / max(float(np.abs(mix).max()), 1e-9) * 10 ** (peak_dbfs / 20)
    # Microphone and preamp self-noise: faint pink-ish hiss far below the music.
    floor_dbfs = float(rng.uniform(-92.0, -72.0))
    hiss = signal.lfilter(*signal.butter(1, 3000, fs=rate), rng.standard_normal((length, channels)), axis=0)
    hiss = hiss / max(float(np.sqrt(np.mean(hiss**2))), 1e-12) * 10 ** (floor_dbfs / 20)
    mix = mix + hiss
    description = (
        f"{'+'.join(ensemble)}, {seconds:.1f} s, {rate} Hz, {'stereo' if channels == 2 else 'mono'}, "
        f"{tempo:.0f} bpm, RT60 {rt60:.2f} s, peak {peak_dbfs:.1f} dBFS{', compressed' if compressed else ''}"
    )
    return RealisticClip(samples=mix.astype(np.float32), sample_rate=rate, description=description)


def realistic_collection(*, count: int, seed: int = 2024) -> list[RealisticClip]:
    """`count` varied stand-in recordings, cycling through every ensemble."""
    clips = []
    for index in range(count):
        clips.append(realistic_clip(seed=seed * 1000 + index, ensemble=ENSEMBLES[index % len(ENSEMBLES)]))
    return clips


# The damage the generalisation test applies, written here independently of reward/ml/degrade.py
# and applied at the recording's own rate, on every channel. ---------------------------------

TEST_DAMAGE = ("noise 10 dB SNR", "noise 20 dB SNR", "clipping 2%", "clipping 10%", "low-pass 3 kHz", "low-pass 6 kHz")


def damage_apply(*, clip: RealisticClip, damage: str, seed: int) -> np.ndarray:
    """A damaged copy of the clip, RMS-matched to it so that level gives nothing away."""
    samples = clip.samples.astype(np.float64)
    rng = np.random.default_rng(seed)
    if damage.startswith("noise"):
        snr_db = float(damage.split()[1])
        noise = rng.standard_normal(samples.shape)
        noise *= math.sqrt(np.mean(samples**2) / 10 ** (snr_db / 10) / np.mean(noise**2))
        out = samples + noise
    elif damage.startswith("clipping"):
        fraction = float(damage.split()[1].rstrip("%")) / 100
        threshold = np.quantile(np.abs(samples), 1 - fraction)
        out = np.clip(samples, -threshold, threshold)
    elif damage.startswith("low-pass"):
        cutoff = float(damage.split()[1]) * 1000
        sos = signal.butter(8, cutoff, btype="lowpass", fs=clip.sample_rate, output="sos")
        out = signal.sosfiltfilt(sos, samples, axis=0)
    else:
        raise ValueError(f"unknown damage {damage!r}")
    out *= math.sqrt(np.mean(samples**2) / max(float(np.mean(out**2)), 1e-20))
    return out.astype(np.float32)
