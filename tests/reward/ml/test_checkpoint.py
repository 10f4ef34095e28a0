"""Checkpoints: bit-exact round trip, refusal of tampered weights, offline loading, pluggable classes,
and the bundled checkpoint's size and description."""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from reward.ml.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    CheckpointHashMismatch,
    checkpoint_load,
    checkpoint_save,
    file_sha256,
)
from reward.ml.interface import (
    DEFAULT_WEIGHTS_DIR,
    BundledRewardModel,
    ClipInput,
    RewardModel,
    RewardModelLoadError,
    load_reward_model,
)
from reward.ml.network import NetworkConfig, RewardNetwork, parameter_count


def _network() -> RewardNetwork:
    torch.manual_seed(3)
    model = RewardNetwork(network=NetworkConfig(channels=(8, 16, 16, 32), embed_dim=32, text_dim=16))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    # Batch-norm running statistics are state too; make them non-trivial.
    model.train()
    model.encode_audio(torch.randn(4, 1, model.front_end.n_mels, model.front_end.crop_frames))
    return model.eval()


def _clip(seed: int) -> ClipInput:
    rng = np.random.default_rng(seed)
    return ClipInput(audio=(rng.standard_normal(44_100 * 3).astype(np.float32) * 0.1, 44_100), prompt_text="calm piano")


def test_save_then_load_gives_back_the_same_weights_bit_for_bit(tmp_path: Path) -> None:
    model = _network()
    checkpoint_save(model=model, directory=tmp_path, version="test-1", training={"data": "none"}, metrics={"a": 1})
    loaded, info = checkpoint_load(path=tmp_path)
    original = model.state_dict()
    restored = loaded.state_dict()
    assert original.keys() == restored.keys()
    for name, tensor in original.items():
        assert tensor.dtype == restored[name].dtype
        assert torch.equal(tensor, restored[name]), name
    assert info.version == "test-1"
    first = BundledRewardModel(model).score([_clip(0), _clip(1)])
    second = BundledRewardModel(loaded).score([_clip(0), _clip(1)])
    for axis in model.axes:
        assert np.array_equal(first[axis], second[axis])


def test_the_config_records_architecture_version_data_metrics_and_hash(tmp_path: Path) -> None:
    model = _network()
    checkpoint_save(model=model, directory=tmp_path, version="v9", training={"data": "synth"}, metrics={"acc": 0.9})
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["architecture"]["class_path"] == "reward.ml.network.RewardNetwork"
    assert config["architecture"]["hyperparameters"]["network"]["channels"] == [8, 16, 16, 32]
    assert config["architecture"]["parameters"] == parameter_count(model=model)
    assert config["version"] == "v9"
    assert config["training"] == {"data": "synth"}
    assert config["metrics"] == {"acc": 0.9}
    assert config["weights"]["sha256"] == file_sha256(path=tmp_path / WEIGHTS_FILE)


def test_it_refuses_weights_whose_hash_does_not_match(tmp_path: Path) -> None:
    checkpoint_save(model=_network(), directory=tmp_path, version="v1")
    recorded = json.loads((tmp_path / CONFIG_FILE).read_text())["weights"]["sha256"]
    weights = bytearray((tmp_path / WEIGHTS_FILE).read_bytes())
    weights[-1] ^= 0x01
    (tmp_path / WEIGHTS_FILE).write_bytes(bytes(weights))
    actual = file_sha256(path=tmp_path / WEIGHTS_FILE)
    with pytest.raises(CheckpointHashMismatch) as caught:
        checkpoint_load(path=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / WEIGHTS_FILE) in message
    assert recorded in message and actual in message


def test_it_refuses_a_folder_without_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="config.json"):
        checkpoint_load(path=tmp_path)


def test_it_refuses_an_architecture_that_is_not_a_network(tmp_path: Path) -> None:
    checkpoint_save(model=_network(), directory=tmp_path, version="v1")
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["architecture"]["class_path"] = "os.path.join"
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="os.path.join"):
        checkpoint_load(path=tmp_path)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reward model tried to open a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_it_loads_and_scores_with_sockets_blocked(tmp_path: Path) -> None:
    checkpoint_save(model=_network(), directory=tmp_path, version="v1")
    model = load_reward_model("reward.ml.interface.BundledRewardModel", tmp_path)
    scores = model.score([_clip(0)])
    assert set(scores) == set(model.axes)


@pytest.mark.usefixtures("no_network")
def test_the_bundled_default_loads_with_sockets_blocked() -> None:
    model = load_reward_model()
    assert isinstance(model, BundledRewardModel)
    assert 0.0 < model.prob_a_beats_b(_clip(0), _clip(1), axis="musicality") < 1.0


def test_the_bundled_checkpoint_is_small_and_describes_itself() -> None:
    config = json.loads((DEFAULT_WEIGHTS_DIR / CONFIG_FILE).read_text())
    assert (DEFAULT_WEIGHTS_DIR / WEIGHTS_FILE).stat().st_size <= 20 * 1024 * 1024
    assert config["architecture"]["parameters"] <= 5_000_000
    assert config["weights"]["sha256"] == file_sha256(path=DEFAULT_WEIGHTS_DIR / WEIGHTS_FILE)
    assert config["version"] and config["training"]["data"] and config["metrics"]


class ConstantRewardModel(RewardModel):
    """A stand-in for a larger model a deployment keeps on disk: reads its scale from a file."""

    axes = ("overall",)

    def __init__(self, scale: float) -> None:
        self.scale = scale

    @classmethod
    def from_path(cls, path: Path) -> ConstantRewardModel:
        return cls(float((Path(path) / "scale.txt").read_text()))

    def score(self, clips: Sequence[ClipInput]) -> dict[str, np.ndarray]:
        return {"overall": np.arange(len(clips), dtype=np.float64) * self.scale}


def test_a_deployment_can_plug_in_its_own_model_class(tmp_path: Path) -> None:
    (tmp_path / "scale.txt").write_text("2.0")
    model = load_reward_model(f"{__name__}.ConstantRewardModel", tmp_path)
    assert isinstance(model, ConstantRewardModel)
    assert model.prob_a_beats_b(_clip(0), _clip(1)) == pytest.approx(1 / (1 + np.exp(2.0)))
    with pytest.raises(KeyError, match="musicality"):
        model.prob_a_beats_b(_clip(0), _clip(1), axis="musicality")


@pytest.mark.parametrize("class_path", ["reward.ml.network.RewardNetwork", "no.such.Module", "NoDots"])
def test_it_refuses_a_class_path_that_is_not_a_reward_model(class_path: str, tmp_path: Path) -> None:
    with pytest.raises(RewardModelLoadError):
        load_reward_model(class_path, tmp_path)
