"""The bundled checkpoint on real recordings it never trained on (the test split of reward/ml/recordings.py, fetched by
`make music-data`), against damages made by implementations training never used (reward/ml/heldout.py, named in
reward/ml/realtest.py's CONDITIONS): overall and musicality must prefer the clean excerpt in at least 95% of pairs
for noise, clipping, MP3 and every low-pass implementation, and in at least 85% against ±40-cent pitch wobble. The
figures are inference only (no training), so they move across machines only by float rounding; the table the build
stored in config.json must be the one measured here, give or take one pair per setting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from reward.ml import realtest
from reward.ml.checkpoint import checkpoint_load
from reward.ml.interface import DEFAULT_WEIGHTS_DIR
from reward.ml.realtest import damage_table, damage_targets_missed, table_print

pytestmark = pytest.mark.slow


def _stored() -> dict[str, Any] | None:
    config = json.loads((DEFAULT_WEIGHTS_DIR / "config.json").read_text())
    table = config.get("metrics", {}).get("real_recordings")
    return table if isinstance(table, dict) else None


@pytest.fixture(scope="module")
def table() -> Iterator[dict[str, Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as deployed in a Celery worker
    try:
        network, _ = checkpoint_load(path=DEFAULT_WEIGHTS_DIR)
        # realtest.test_excerpts, not imported bare: pytest would collect it as a test.
        yield damage_table(network=network, excerpts=realtest.test_excerpts())
    finally:
        torch.set_num_threads(threads)


def test_the_bundled_model_holds_its_targets_on_real_recordings(table: dict[str, Any]) -> None:
    table_print(table)
    assert table["excerpts"] >= 30 and len(table["packages"]) >= 3
    assert not any(key.startswith("singularity-music") for key in table["tracks"])
    assert damage_targets_missed(table) == []


def test_the_table_stored_with_the_checkpoint_is_the_one_measured(table: dict[str, Any]) -> None:
    stored = _stored()
    assert stored is not None
    assert stored["targets_missed"] == [] and stored["excerpts"] == table["excerpts"]
    measured = {(row["family"], row["implementation"], row["parameter"]): row for row in table["rows"]}
    for row in stored["rows"]:
        again = measured[(row["family"], row["implementation"], row["parameter"])]
        for axis in ("overall", "musicality"):
            assert abs(row[axis] - again[axis]) <= 1.0 / row["pairs"] + 1e-9, (row, again)
