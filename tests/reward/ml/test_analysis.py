"""The analysis figures beside the log-mel: artefacts move the figures meant for them, a stated tempo and key are
read from the prompt and matched against the clip's rhythm and pitch classes."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from demo.synth import MusicSpec, render
from reward.ml.analysis import (
    ANALYSIS_DIM,
    ANALYSIS_RATE,
    LOW_DIM,
    LOW_START,
    analysis_vector,
    attribute_match,
    clip_analysis,
    prompt_attributes,
)
from reward.ml.degrade import buzz_add, clip_hard, lowpass, noise_add, pitch_wobble
from reward.ml.heldout import noise_heldout

RATE = ANALYSIS_RATE
SPEC = MusicSpec(tempo_bpm=120, mode="minor", key=9, instrument="piano", mood="calm", with_drums=True,
                 duration_s=6.0, reverb_amount=0.1)


@pytest.fixture(scope="module")
def piece() -> np.ndarray:
    return render(SPEC, sample_rate=RATE, seed=3).mean(axis=1)


def _figures(samples: np.ndarray) -> np.ndarray:
    return analysis_vector(waveform=torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))).numpy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A calm piano piece in A minor at 72 BPM", [1.0, np.log2(72), 1.0, 9.0, -1.0]),
        ("An energetic synth pad piece in F# major at 140 BPM, with drums", [1.0, np.log2(140), 1.0, 6.0, 1.0]),
        ("slow blues in Eb minor", [0.0, 0.0, 1.0, 3.0, -1.0]),
        ("B-flat major, 90 bpm", [1.0, np.log2(90), 1.0, 10.0, 1.0]),
        ("a minor hit for the radio", [0.0] * 5),  # "a minor" with a small a is not a key
        ("", [0.0] * 5),
        (None, [0.0] * 5),
    ],
)
def test_prompt_attributes_read_the_stated_tempo_and_key(text: str | None, expected: list[float]) -> None:
    assert np.allclose(prompt_attributes(text=text), expected)


def test_figures_have_their_size_and_are_finite_even_for_silence_and_tiny_clips(piece: np.ndarray) -> None:
    for samples in (piece, np.zeros(RATE, dtype=np.float32), piece[:300]):
        figures = _figures(samples)
        assert figures.shape == (ANALYSIS_DIM,)
        assert np.isfinite(figures).all()


def test_level_is_no_cue(piece: np.ndarray) -> None:
    assert np.allclose(_figures(piece), _figures(0.1 * piece), rtol=1e-3, atol=1e-2)


def test_resampling_first_gives_about_the_same_figures(piece: np.ndarray) -> None:
    import torchaudio

    at_44k = torchaudio.functional.resample(torch.from_numpy(piece), RATE, 44_100)
    direct = _figures(piece)
    resampled = clip_analysis(mono=at_44k, sample_rate=44_100).numpy()
    assert np.corrcoef(direct, resampled)[0, 1] > 0.99


def test_each_damage_moves_its_own_figure(piece: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    clean = _figures(piece)
    floors, high_bands, wow, clipped = slice(1, 6), slice(13, 16), 16, 19  # high_bands: 6-12 kHz
    dull = _figures(lowpass(samples=piece, sample_rate=RATE, cutoff_hz=4000.0))
    assert (dull[high_bands] < clean[high_bands] - 20).all()
    assert (_figures(noise_add(samples=piece, snr_db=30.0, rng=rng))[floors] > clean[floors] + 3).all()
    wobbled = pitch_wobble(samples=piece, sample_rate=RATE, depth_cents=40.0, rate_hz=0.6, rng=rng)
    assert _figures(wobbled)[wow] > clean[wow] * 1.3
    assert _figures(clip_hard(samples=piece, fraction=0.05))[clipped] > clean[clipped] + 1.0


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("mains hum, 50 Hz (held out)", lambda x, rng: noise_heldout(samples=x, sample_rate=RATE, kind="hum-50",
                                                                      snr_db=20.0, rng=rng)),
        ("brown noise, leaky integrator (held out)", lambda x, rng: noise_heldout(
            samples=x, sample_rate=RATE, kind="brown-leaky", snr_db=20.0, rng=rng)),
        ("training's mains buzz", lambda x, rng: buzz_add(samples=x, sample_rate=RATE, snr_db=20.0, rng=rng)),
        ("training's brown noise, flat below 40 Hz", lambda x, rng: noise_add(
            samples=x, snr_db=20.0, rng=rng, colour="brown", corner_fraction=40.0 / (RATE / 2))),
    ],
)
def test_hum_and_rumble_raise_the_low_frequency_figures(piece: np.ndarray, name: str, damage: Any) -> None:
    clean = _figures(piece)[LOW_START:]
    damaged = _figures(damage(piece, np.random.default_rng(1)))[LOW_START:]
    assert clean.shape == damaged.shape == (LOW_DIM,)
    floor, floor_over_median, ladder = 1, 2, 5  # of 20-120 Hz; the steadiest ladder of partials
    assert damaged[floor] > clean[floor] + 3.0, name
    assert damaged[floor_over_median] > clean[floor_over_median], name
    if "hum" in name or "buzz" in name:
        assert damaged[ladder] > clean[ladder], name


def _match(samples: np.ndarray, texts: list[str]) -> np.ndarray:
    figures = torch.from_numpy(_figures(samples)).expand(len(texts), -1)
    attributes = torch.tensor([prompt_attributes(text=text) for text in texts])
    return attribute_match(analysis=figures, attributes=attributes).numpy()


def test_the_stated_tempo_fits_better_than_another(piece: np.ndarray) -> None:
    right, wrong, none = _match(piece, ["at 120 BPM", "at 85 BPM", "no tempo here"])
    assert right[0] > wrong[0] + 0.1
    assert right[3] == wrong[3] == 1.0 and not none.any()


def test_the_stated_key_and_mode_fit_better_than_the_other_mode_or_another_key() -> None:
    samples = render(replace(SPEC, with_drums=False), sample_rate=RATE, seed=4).mean(axis=1)
    right, other_mode, other_key = _match(samples, ["in A minor", "in A major", "in F# major"])
    assert right[4] > 0 > other_mode[4]
    assert right[5] > other_key[5]
