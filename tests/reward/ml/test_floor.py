"""The quality floor (reward/ml/floor.py): after stage 2 the artefact penalty is raised, never lowered, until clean
excerpts beat damaged copies by the margin. By default only the low-frequency weights rise, and every pair weighs on
them, so a figure that would help against hum but favour another damage rises only as far as both allow; the heads
stay as they are. The fit is scipy's; these tests check what it is asked to do."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reward.ml.analysis import ANALYSIS_DIM, ARTEFACT_DIM, LOW_DIM, clip_analysis
from reward.ml.floor import LOW_FREQUENCY, OTHER, FloorPairs, FloorSettings, floor_pairs_make, penalty_floor_fit
from reward.ml.network import NetworkConfig, RewardNetwork
from reward.ml.recordings import Excerpt, Track

FIGURES = ARTEFACT_DIM + LOW_DIM
HUM_FIGURE, GAP_FIGURE = ARTEFACT_DIM, ARTEFACT_DIM + 1  # two low-frequency figures


def _network() -> RewardNetwork:
    torch.manual_seed(0)
    return RewardNetwork(network=NetworkConfig(channels=(8, 8), embed_dim=16, head_hidden=8, text_dim=8))


def _pairs(*, rng: np.random.Generator, count: int = 40, head_prefers_damage: float = 3.0) -> FloorPairs:
    """Clean clips (even indices) and damaged copies (odd) whose heads prefer the damaged copy. Hum pairs raise two
    low-frequency figures; the other damage (a dropout, say) raises the first artefact figure and lowers one of the
    two low-frequency figures, as a gap lowers the floor of the bass band."""
    damage = np.zeros((2 * count, FIGURES))
    group = np.array([LOW_FREQUENCY if index % 2 == 0 else OTHER for index in range(count)])
    for index in range(count):
        worse = 2 * index + 1
        if group[index] == LOW_FREQUENCY:
            damage[worse, [HUM_FIGURE, GAP_FIGURE]] = rng.uniform(0.5, 2.0, 2)
        else:
            damage[worse, 0] = rng.uniform(3.0, 4.0)
            damage[worse, GAP_FIGURE] = -rng.uniform(0.5, 2.0)
    head = np.where(np.arange(2 * count) % 2 == 1, head_prefers_damage, 0.0)
    return FloorPairs(head={"overall": head, "musicality": head.copy()}, damage=damage,
                      better=np.arange(0, 2 * count, 2), worse=np.arange(1, 2 * count, 2), group=group)


def _weights(network: RewardNetwork) -> dict[str, torch.Tensor]:
    return {axis: F.softplus(weights.detach()).clone() for axis, weights in network.artefact_weights.items()}


def test_the_floor_raises_the_low_frequency_weights_until_hum_pairs_rank_right_and_lowers_nothing() -> None:
    network = _network()
    before = _weights(network)
    heads = {name: value.clone() for name, value in network.heads.state_dict().items()}
    pairs = _pairs(rng=np.random.default_rng(0))
    report = penalty_floor_fit(network=network, pairs=pairs, settings=FloorSettings(margin=0.5))
    after = _weights(network)
    for axis in after:
        assert bool((after[axis] >= before[axis] - 1e-5).all())  # never lowered
        raised = (after[axis] - before[axis]) > 1e-4
        assert not bool(raised[:ARTEFACT_DIM].any())  # only the low-frequency weights may rise
        assert bool(raised[HUM_FIGURE])
        # The figure that a dropout lowers rises less than the one only hum moves: the dropout pairs hold it back.
        assert after[axis][GAP_FIGURE] < after[axis][HUM_FIGURE]
        figures = report["axes"][axis]
        assert figures["before"][LOW_FREQUENCY]["right"] == 0.0 and figures["after"][LOW_FREQUENCY]["right"] == 1.0
        assert figures["after"][OTHER]["right"] >= figures["before"][OTHER]["right"]
        # The network now subtracts the penalty the report counted.
        scores = torch.from_numpy(pairs.head[axis]).float() - torch.from_numpy(pairs.damage).float() @ after[axis]
        hum = torch.from_numpy(pairs.group == LOW_FREQUENCY)
        assert bool((scores[torch.from_numpy(pairs.better)][hum] > scores[torch.from_numpy(pairs.worse)][hum]).all())
    assert all(torch.equal(value, network.heads.state_dict()[name]) for name, value in heads.items())


def test_with_every_figure_raisable_the_other_damages_are_floored_too() -> None:
    network = _network()
    before = _weights(network)
    report = penalty_floor_fit(network=network, pairs=_pairs(rng=np.random.default_rng(1)),
                               settings=FloorSettings(margin=0.5, figures="all"))
    for axis, weights in _weights(network).items():
        assert float(weights[0] - before[axis][0]) > 1e-3
        assert report["axes"][axis]["after"][OTHER]["right"] == 1.0


def test_the_floor_leaves_the_weights_alone_when_the_pairs_already_clear_the_margin() -> None:
    network = _network()
    before = _weights(network)
    report = penalty_floor_fit(network=network, pairs=_pairs(rng=np.random.default_rng(2), head_prefers_damage=-30.0),
                               settings=FloorSettings(margin=0.5))
    for axis, weights in _weights(network).items():
        assert torch.allclose(weights, before[axis], atol=1e-3)
        assert max(report["axes"][axis]["increase"]) < 1e-3


def test_a_larger_margin_asks_for_a_larger_penalty() -> None:
    smaller, larger = _network(), _network()
    pairs = _pairs(rng=np.random.default_rng(3))
    penalty_floor_fit(network=smaller, pairs=pairs, settings=FloorSettings(margin=0.5))
    penalty_floor_fit(network=larger, pairs=pairs, settings=FloorSettings(margin=1.0))
    for axis, weights in _weights(smaller).items():
        assert float(_weights(larger)[axis].sum()) > float(weights.sum())


def test_floor_settings_refuse_what_they_cannot_fit() -> None:
    with pytest.raises(ValueError, match="figures must be"):
        FloorSettings(figures="treble")
    with pytest.raises(ValueError, match="margin must be positive"):
        FloorSettings(margin=0.0)


def test_floor_pairs_are_scored_as_the_network_scores_whole_clips() -> None:
    network = _network().eval()
    rate = network.front_end.sample_rate
    rng = np.random.default_rng(2)
    seconds = np.arange(int(2.5 * rate)) / rate
    music = (0.3 * np.sin(2 * np.pi * 330 * seconds) * (1 + 0.5 * np.sin(2 * np.pi * 2 * seconds))
             + 0.01 * rng.standard_normal(seconds.shape[0])).astype(np.float32)
    track = Track(key="test/a.ogg", package="test", version="1", path="a.ogg", seconds=10.0, sample_rate=rate,
                  channels=1, licence="test", copyright="test", split="train")
    excerpts = [Excerpt(track=track, start=0.0, samples=music, sample_rate=rate)]
    pairs = floor_pairs_make(network=network, excerpts=excerpts,
                             settings=FloorSettings(low_frequency_per_excerpt=2, other_per_excerpt=1))
    assert list(pairs.group) == [LOW_FREQUENCY, LOW_FREQUENCY, OTHER]
    assert list(pairs.better) == [0, 0, 0] and list(pairs.worse) == [1, 2, 3]
    assert pairs.damage.shape == (4, FIGURES) and len(pairs.descriptions) == 3
    assert all(("buzz" in how or "brown noise" in how) for how in pairs.descriptions[:2])
    analysis = clip_analysis(mono=torch.from_numpy(music), sample_rate=rate).unsqueeze(0)
    assert analysis.shape == (1, ANALYSIS_DIM)
    assert np.allclose(pairs.damage[0], network.artefact_damage(analysis).double().numpy()[0], atol=1e-5)
