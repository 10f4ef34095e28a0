"""Reward-model checkpoints: weights in safetensors beside a JSON config (architecture class path and
hyper-parameters, version, training data, metrics, the weights' sha256). Loading reads only local
files and refuses weights whose hash differs from the one recorded."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class CheckpointError(Exception):
    """A checkpoint folder that cannot be used, with the reason."""


class CheckpointHashMismatch(CheckpointError):
    """The weights file is not the one the config was written for."""

    def __init__(self, *, path: Path, expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(
            f"refusing to load {path}: its sha256 is {actual} but {path.parent / CONFIG_FILE} "
            f"records {expected}; the weights were changed or belong to another checkpoint"
        )


@dataclass(frozen=True)
class CheckpointInfo:
    """A loaded or saved checkpoint: where it is and its whole JSON config."""

    directory: Path
    config: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.config.get("version", ""))

    @property
    def sha256(self) -> str:
        return str(self.config["weights"]["sha256"])

    @property
    def weights_path(self) -> Path:
        return self.directory / str(self.config["weights"]["file"])


def file_sha256(*, path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def checkpoint_save(
    *,
    model: nn.Module,
    directory: Path,
    version: str,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> CheckpointInfo:
    """Write `model` (which must offer hyperparameters() and from_hyperparameters()) to `directory`."""
    describe = getattr(model, "hyperparameters", None)
    if not callable(describe) or not hasattr(type(model), "from_hyperparameters"):
        raise CheckpointError(f"{type(model).__name__} cannot describe itself: it needs hyperparameters()")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    weights = safetensors.torch.save(state, metadata={"format": "pt"})
    _write_atomically(directory / WEIGHTS_FILE, weights)
    config = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "architecture": {
            "class_path": f"{type(model).__module__}.{type(model).__qualname__}",
            "hyperparameters": describe(),
            "parameters": int(sum(p.numel() for p in model.parameters())),
        },
        "weights": {
            "file": WEIGHTS_FILE,
            "sha256": hashlib.sha256(weights).hexdigest(),
            "bytes": len(weights),
        },
        "training": training or {},
        "metrics": metrics or {},
        "torch_version": torch.__version__.split("+")[0],
    }
    _write_atomically(directory / CONFIG_FILE, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    return CheckpointInfo(directory=directory, config=config)


def checkpoint_read_config(*, directory: Path) -> CheckpointInfo:
    """Read and check the JSON config of a checkpoint folder (or of the config file itself)."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    config_path = directory / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text())
    except FileNotFoundError as error:
        raise CheckpointError(f"no checkpoint at {directory}: {config_path} is missing") from error
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{config_path} is not valid JSON: {error}") from error
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format_version {config.get('format_version')!r}; this code reads {FORMAT_VERSION}"
        )
    return CheckpointInfo(directory=directory, config=config)


# Checkpoints saved before the reward model became an app of its own name its network under the old package.
_MOVED_PACKAGES = {"scoring.reward.": "reward.ml."}


def _architecture_class(class_path: str) -> type[nn.Module]:
    for old, new in _MOVED_PACKAGES.items():
        if class_path.startswith(old):
            class_path = new + class_path[len(old):]
    module_name, _, class_name = class_path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise CheckpointError(f"architecture {class_path!r} cannot be imported: {error}") from error
    if not (isinstance(found, type) and issubclass(found, nn.Module) and hasattr(found, "from_hyperparameters")):
        raise CheckpointError(f"architecture {class_path!r} is not an nn.Module with from_hyperparameters()")
    return found


def checkpoint_load(*, path: Path, map_location: str = "cpu") -> tuple[Any, CheckpointInfo]:
    """Rebuild the network a checkpoint describes and load its weights, after checking their hash."""
    info = checkpoint_read_config(directory=path)
    weights_path = info.weights_path
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path} is missing (named in {info.directory / CONFIG_FILE})")
    # Hash the very bytes that are loaded, so the file cannot change between check and use.
    weights = weights_path.read_bytes()
    actual = hashlib.sha256(weights).hexdigest()
    if actual != info.sha256:
        raise CheckpointHashMismatch(path=weights_path, expected=info.sha256, actual=actual)
    architecture = info.config["architecture"]
    model_class = _architecture_class(str(architecture["class_path"]))
    model = model_class.from_hyperparameters(architecture["hyperparameters"])  # type: ignore[attr-defined]
    state = {name: tensor.to(map_location) for name, tensor in safetensors.torch.load(weights).items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, info
