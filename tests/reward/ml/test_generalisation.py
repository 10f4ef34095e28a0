"""The bundled checkpoint on recordings it has never seen: stand-ins made without demo/synth.py
(tests/reward/ml/realistic_audio.py), each against copies with noise (10 and 20 dB SNR),
clipping (2% and 10% of samples) and a low-pass (3 and 6 kHz), written to and read from files.
The model must prefer the clean recording in at least 90% of pairs and beat the signal-processing
baseline on the same pairs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from reward.ml.baseline import baseline_score
from reward.ml.interface import ClipInput, load_reward_model
from tests.reward.ml.realistic_audio import TEST_DAMAGE, damage_apply, realistic_collection

CLIPS = 24


def _write(path: Path, samples: np.ndarray, rate: int) -> Path:
    # 16-bit like most real files, unless a level-matched copy would overflow it.
    subtype = "PCM_16" if float(np.abs(samples).max()) < 0.999 else "FLOAT"
    soundfile.write(path, samples, rate, subtype=subtype)
    return path


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, Path, Path]]:
    folder = tmp_path_factory.mktemp("realistic")
    made = []
    for index, clip in enumerate(realistic_collection(count=CLIPS)):
        clean = _write(folder / f"clip{index}.wav", clip.samples, clip.sample_rate)
        for number, damage in enumerate(TEST_DAMAGE):
            damaged = damage_apply(clip=clip, damage=damage, seed=index * 100 + number)
            path = _write(folder / f"clip{index}_damage{number}.wav", damaged, clip.sample_rate)
            made.append((clip.description, damage, clean, path))
    return made


@pytest.fixture
def one_thread() -> Iterator[None]:
    # As deployed in a Celery worker; scoring is fast enough on one thread (see bench/bench_reward.py).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_the_bundled_model_prefers_clean_recordings_and_beats_the_baseline(
    pairs: list[tuple[str, str, Path, Path]],
) -> None:
    model = load_reward_model()
    cleans = sorted({clean for _, _, clean, _ in pairs})
    clean_scores = model.score([ClipInput(audio=path) for path in cleans])
    clean_overall = dict(zip(cleans, clean_scores["overall"], strict=True))
    clean_musicality = dict(zip(cleans, clean_scores["musicality"], strict=True))
    damaged_scores = model.score([ClipInput(audio=damaged) for _, _, _, damaged in pairs])
    clean_baseline = {path: baseline_score(source=path) for path in cleans}
    rows = []
    for row, (description, damage, clean, damaged) in enumerate(pairs):
        rows.append(
            (
                description,
                damage,
                bool(clean_overall[clean] > damaged_scores["overall"][row]),
                bool(clean_musicality[clean] > damaged_scores["musicality"][row]),
                bool(clean_baseline[clean] > baseline_score(source=damaged)),
            )
        )

    def accuracy(column: int, damage: str | None = None) -> float:
        return float(np.mean([row[column] for row in rows if damage is None or row[1] == damage]))

    print(f"\n{len(rows)} pairs ({CLIPS} stand-in recordings x {len(TEST_DAMAGE)} damages), share preferring clean:")
    print(f"{'damage':<18}{'overall':>9}{'musicality':>12}{'baseline':>10}")
    for damage in [*TEST_DAMAGE, None]:
        shares = "".join(f"{accuracy(column, damage):>{width}.3f}" for column, width in ((2, 9), (3, 12), (4, 10)))
        print(f"{damage or 'all':<18}{shares}")
    print("overall-score misses:", [f"{row[1]} on {row[0]}" for row in rows if not row[2]] or "none")

    assert accuracy(2) >= 0.90
    assert accuracy(2) > accuracy(4)
