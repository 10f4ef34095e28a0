"""What the platform sees of a reward model: score clips per axis, say how likely A beats B, and
load a model by class path from a local folder (the bundled one by default, a larger one if a
deployment has it on disk). Nothing here downloads anything."""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from reward.ml.analysis import clip_analysis
from reward.ml.audio import AudioSource, audio_load_mono, clip_segments, mono_segments
from reward.ml.network import Conditioning, RewardNetwork
from reward.ml.text import text_batch

if TYPE_CHECKING:
    from reward.ml.checkpoint import CheckpointInfo

DEFAULT_REWARD_MODEL_CLASS = "reward.ml.interface.BundledRewardModel"
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class ClipInput:
    """A clip to score with what it was made for: prompt text, lyrics, reference audio (each optional)."""

    audio: AudioSource
    prompt_text: str | None = None
    lyrics: str | None = None
    reference: AudioSource | None = None


class RewardModel(ABC):
    """A reward model the platform can use. Scores are comparable within a prompt, on each axis;
    P(A beats B on an axis) = sigmoid(score_A - score_B)."""

    axes: tuple[str, ...]

    @classmethod
    @abstractmethod
    def from_path(cls, path: Path) -> RewardModel:
        """Load from a local folder; must never reach the network."""

    @abstractmethod
    def score(self, clips: Sequence[ClipInput]) -> dict[str, np.ndarray]:
        """Per axis, one float per clip, in order."""

    def prob_a_beats_b(self, clip_a: ClipInput, clip_b: ClipInput, *, axis: str = "overall") -> float:
        if axis not in self.axes:
            raise KeyError(f"this reward model has no axis {axis!r}; it has {self.axes}")
        scores = self.score([clip_a, clip_b])[axis]
        return 1.0 / (1.0 + math.exp(-(float(scores[0]) - float(scores[1]))))

    def describe(self) -> dict[str, Any]:
        """What to record beside its scores (version, training, metrics); empty if unknown."""
        return {}


def network_score_clips(
    *, network: RewardNetwork, clips: Sequence[ClipInput], max_segments: int = 64,
    analyses: list[torch.Tensor] | None = None,
) -> dict[str, np.ndarray]:
    """Score clips with a RewardNetwork: each clip is cut into crop-length segments covering it,
    every segment is scored with the clip's conditioning, and the segment scores are averaged.
    With `analyses`, each clip's analysis figures (ANALYSIS_DIM,) are appended to it, in order."""
    config = network.front_end
    device = next(network.parameters()).device
    was_training = network.training
    network.eval()
    results: dict[str, list[float]] = {axis: [] for axis in network.axes}
    with torch.no_grad():
        for clip in clips:
            mono = audio_load_mono(source=clip.audio, sample_rate=config.sample_rate)
            segments = mono_segments(mono=mono, config=config)
            count = segments.shape[0]
            # Analysis figures of the whole clip, the same for each of its segments.
            analysis = clip_analysis(mono=mono, sample_rate=config.sample_rate) if network.config.analysis else None
            if analyses is not None and analysis is not None:
                analyses.append(analysis)
            reference_embedding = None
            if clip.reference is not None:
                reference_segments = clip_segments(source=clip.reference, config=config)
                reference_embedding = torch.cat(
                    [network.encode_audio(part.to(device)) for part in reference_segments.split(max_segments)]
                ).mean(dim=0, keepdim=True)
            condition = network.conditioning(
                prompts=text_batch(texts=[clip.prompt_text], config=network.text),
                lyrics=text_batch(texts=[clip.lyrics], config=network.text),
                reference_embedding=reference_embedding,
                reference_present=torch.tensor([clip.reference is not None]),
            )
            totals = {axis: 0.0 for axis in network.axes}
            for part in segments.split(max_segments):
                rows = part.shape[0]
                expanded = Conditioning(
                    prompt=condition.prompt.expand(rows, -1),
                    lyrics=condition.lyrics.expand(rows, -1),
                    reference=condition.reference.expand(rows, -1),
                    attributes=None if condition.attributes is None else condition.attributes.expand(rows, -1),
                )
                rows_analysis = None if analysis is None else analysis.unsqueeze(0).expand(rows, -1)
                scores = network(part.to(device), expanded, rows_analysis)
                for axis in network.axes:
                    totals[axis] += float(scores[axis].sum())
            for axis in network.axes:
                results[axis].append(totals[axis] / count)
    network.train(was_training)
    return {axis: np.asarray(values, dtype=np.float64) for axis, values in results.items()}


class BundledRewardModel(RewardModel):
    """The small CNN shipped in reward/ml/weights (or any checkpoint of the same format)."""

    def __init__(self, network: RewardNetwork, *, info: CheckpointInfo | None = None) -> None:
        self.network = network.eval()
        self.info = info
        self.axes = tuple(network.axes)

    @classmethod
    def from_path(cls, path: Path) -> BundledRewardModel:
        from reward.ml.checkpoint import checkpoint_load

        network, info = checkpoint_load(path=Path(path))
        return cls(network, info=info)

    def score(self, clips: Sequence[ClipInput]) -> dict[str, np.ndarray]:
        return network_score_clips(network=self.network, clips=clips)

    def describe(self) -> dict[str, Any]:
        return {} if self.info is None else self.info.config


class RewardModelLoadError(ImportError):
    """The class path does not name a RewardModel that can be loaded."""


def load_reward_model(
    class_path: str = DEFAULT_REWARD_MODEL_CLASS, path: Path = DEFAULT_WEIGHTS_DIR
) -> RewardModel:
    """Import `class_path` ("package.module.ClassName", a RewardModel subclass) and load it from `path`."""
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name:
        raise RewardModelLoadError(f"{class_path!r} is not a dotted path like 'package.module.ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise RewardModelLoadError(f"cannot import {module_name!r} for reward model {class_path!r}: {error}") from error
    model_class = getattr(module, class_name, None)
    if not (isinstance(model_class, type) and issubclass(model_class, RewardModel)):
        raise RewardModelLoadError(f"{class_path!r} is not a subclass of reward.ml.interface.RewardModel")
    return model_class.from_path(Path(path))
