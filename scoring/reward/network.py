"""The bundled reward network: a small CNN on log-mel with hashed-n-gram text conditioning and
three heads (overall, musicality, prompt alignment), with learned null embeddings for absent inputs.

Musicality looks at the audio alone. Prompt alignment compares the audio embedding with the
prompt text, lyrics and reference-audio embeddings. Overall is a third head that sees both, so
votes on the overall choice can teach it its own mix of the two.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from scoring.reward.audio import FrontEndConfig
from scoring.reward.text import TextBatch, TextConfig

AXES: tuple[str, ...] = ("overall", "musicality", "prompt_alignment")


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture hyper-parameters; stored in the checkpoint beside the weights."""

    channels: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 128
    text_dim: int = 64
    head_hidden: int = 64
    axes: tuple[str, ...] = AXES

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["channels"] = list(self.channels)
        values["axes"] = list(self.axes)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> NetworkConfig:
        values = dict(values)
        values["channels"] = tuple(values["channels"])
        values["axes"] = tuple(values["axes"])
        return cls(**values)


@dataclass(frozen=True)
class Conditioning:
    """Prompt text, lyrics and reference-audio embeddings for a batch, one row per clip."""

    prompt: torch.Tensor
    lyrics: torch.Tensor
    reference: torch.Tensor


class AudioEncoder(nn.Module):
    """Log-mel (batch, 1, n_mels, frames) to an embedding (batch, embed_dim).

    Besides the convolution stack it pools per-band statistics of the input (mean, spread and
    a low quantile over time, a noise-floor estimate), which carry band-limiting and added
    noise directly.
    """

    def __init__(self, *, n_mels: int, channels: tuple[int, ...], embed_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for width in channels:
            layers += [
                nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            previous = width
        layers += [
            nn.Conv2d(previous, previous, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(previous),
            nn.ReLU(inplace=True),
        ]
        self.convs = nn.Sequential(*layers)
        bands_left = n_mels // (2 ** len(channels))
        self.conv_projection = nn.Linear(previous * bands_left * 2, embed_dim)
        self.band_projection = nn.Linear(n_mels * 3, embed_dim)
        self.mix = nn.Sequential(nn.ReLU(), nn.Linear(embed_dim, embed_dim))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        maps = self.convs(log_mel)
        pooled = torch.cat([maps.mean(dim=-1), maps.amax(dim=-1)], dim=-1).flatten(1)
        bands = log_mel.squeeze(1)
        band_stats = torch.cat(
            [bands.mean(dim=-1), bands.std(dim=-1), torch.quantile(bands, 0.1, dim=-1)], dim=-1
        )
        return self.mix(self.conv_projection(pooled) + self.band_projection(band_stats))


def _head(inputs: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, 1))


class RewardNetwork(nn.Module):
    """Scores clips on each axis; P(A beats B on an axis) = sigmoid(score_A - score_B)."""

    def __init__(
        self,
        *,
        front_end: FrontEndConfig | None = None,
        text: TextConfig | None = None,
        network: NetworkConfig | None = None,
    ) -> None:
        super().__init__()
        self.front_end = front_end or FrontEndConfig()
        self.text = text or TextConfig()
        self.config = network or NetworkConfig()
        embed, text_dim = self.config.embed_dim, self.config.text_dim
        self.audio_encoder = AudioEncoder(
            n_mels=self.front_end.n_mels, channels=self.config.channels, embed_dim=embed
        )
        self.text_table = nn.EmbeddingBag(self.text.buckets, text_dim, mode="mean")
        nn.init.normal_(self.text_table.weight, std=0.1)
        self.prompt_projection = nn.Linear(text_dim, text_dim)
        self.lyrics_projection = nn.Linear(text_dim, text_dim)
        self.reference_projection = nn.Linear(embed, text_dim)
        self.audio_to_text = nn.Linear(embed, text_dim)
        # Learned stand-ins for a prompt, lyrics or reference audio that a clip does not have.
        self.null_prompt = nn.Parameter(torch.zeros(text_dim))
        self.null_lyrics = nn.Parameter(torch.zeros(text_dim))
        self.null_reference = nn.Parameter(torch.zeros(embed))
        alignment_inputs = text_dim * 7
        hidden = self.config.head_hidden
        self.heads = nn.ModuleDict()
        for axis in self.config.axes:
            if axis == "musicality":
                self.heads[axis] = _head(embed, hidden)
            elif axis == "overall":
                self.heads[axis] = _head(embed + alignment_inputs, hidden)
            else:
                self.heads[axis] = _head(alignment_inputs, hidden)

    # Construction from and to the JSON config of a checkpoint.
    def hyperparameters(self) -> dict[str, Any]:
        return {
            "front_end": self.front_end.to_dict(),
            "text": self.text.to_dict(),
            "network": self.config.to_dict(),
        }

    @classmethod
    def from_hyperparameters(cls, values: dict[str, Any]) -> RewardNetwork:
        return cls(
            front_end=FrontEndConfig.from_dict(values["front_end"]),
            text=TextConfig.from_dict(values["text"]),
            network=NetworkConfig.from_dict(values["network"]),
        )

    @property
    def axes(self) -> tuple[str, ...]:
        return self.config.axes

    def encode_audio(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.audio_encoder(log_mel)

    def encode_text(self, batch: TextBatch, *, kind: str) -> torch.Tensor:
        """Text embeddings (batch, text_dim); absent texts get the learned null embedding."""
        device = self.text_table.weight.device
        bag = self.text_table(batch.ids.to(device), batch.offsets.to(device))
        if kind == "prompt":
            projected, null = self.prompt_projection(bag), self.null_prompt
        elif kind == "lyrics":
            projected, null = self.lyrics_projection(bag), self.null_lyrics
        else:
            raise ValueError(f"unknown text kind {kind!r}")
        present = batch.present.to(device).unsqueeze(1)
        return torch.where(present, projected, null.expand_as(projected))

    def reference_or_null(self, embedding: torch.Tensor | None, present: torch.Tensor, rows: int) -> torch.Tensor:
        """Reference-audio embeddings (rows, embed_dim) where present, the null embedding elsewhere."""
        null = self.null_reference.expand(rows, -1)
        if embedding is None:
            return null
        return torch.where(present.to(null.device).unsqueeze(1), embedding, null)

    def conditioning(
        self,
        *,
        prompts: TextBatch,
        lyrics: TextBatch,
        reference_embedding: torch.Tensor | None,
        reference_present: torch.Tensor,
    ) -> Conditioning:
        rows = prompts.present.shape[0]
        return Conditioning(
            prompt=self.encode_text(prompts, kind="prompt"),
            lyrics=self.encode_text(lyrics, kind="lyrics"),
            reference=self.reference_or_null(reference_embedding, reference_present, rows),
        )

    def score_embeddings(self, audio: torch.Tensor, conditioning: Conditioning) -> dict[str, torch.Tensor]:
        """Per-axis scores (batch,) from audio embeddings and matching conditioning rows."""
        as_text = self.audio_to_text(audio)
        reference = self.reference_projection(conditioning.reference)
        alignment = torch.cat(
            [
                as_text,
                conditioning.prompt,
                conditioning.lyrics,
                reference,
                as_text * conditioning.prompt,
                as_text * conditioning.lyrics,
                as_text * reference,
            ],
            dim=1,
        )
        scores: dict[str, torch.Tensor] = {}
        for axis, head in self.heads.items():
            if axis == "musicality":
                scores[axis] = head(audio).squeeze(1)
            elif axis == "overall":
                scores[axis] = head(torch.cat([audio, alignment], dim=1)).squeeze(1)
            else:
                scores[axis] = head(alignment).squeeze(1)
        return scores

    def forward(self, log_mel: torch.Tensor, conditioning: Conditioning) -> dict[str, torch.Tensor]:
        return self.score_embeddings(self.encode_audio(log_mel), conditioning)


def parameter_count(*, model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


__all__ = [
    "AXES",
    "AudioEncoder",
    "Conditioning",
    "NetworkConfig",
    "RewardNetwork",
    "parameter_count",
]
