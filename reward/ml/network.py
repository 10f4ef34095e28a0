"""The bundled reward network: a small CNN on log-mel with hashed-n-gram text conditioning and
three heads (overall, musicality, prompt alignment), with learned null embeddings for absent inputs.

Musicality looks at the audio alone: a head on its embedding, less a penalty for the artefact figures of
reward.ml.analysis. Prompt alignment compares the audio embedding with the prompt text, lyrics and
reference-audio embeddings, and gets how well the clip's rhythm and pitch classes fit the tempo and key the prompt
states. Overall is a third head that sees all of it (with its own artefact penalty), so votes on the overall
choice can teach it its own mix.

The artefact penalty is monotone: each figure counts against a clip only in the direction damage moves it, with a
non-negative learned weight (softplus). Votes can re-weigh hiss against dullness or wow, but cannot teach the
network that more noise or clipping is better, which a free head fed the same figures learned from a few hundred
demo votes (and then preferred noisy copies of real recordings). Networks built with `low_frequency` also count the
low-frequency figures (hum, rumble) there. `FinetuneSettings.freeze_artefact_penalty` keeps the weights stage 1 set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.axes import MODEL_AXES, Axis
from reward.ml.analysis import (
    ANALYSIS_DIM,
    ARTEFACT_DIM,
    ARTEFACT_DIRECTION,
    ATTRIBUTE_DIM,
    LOW_DIM,
    LOW_DIRECTION,
    LOW_START,
    MATCH_DIM,
    attribute_match,
)
from reward.ml.audio import FrontEndConfig
from reward.ml.text import TextBatch, TextConfig

# The default heads of a new network; a checkpoint stores the axes it was built with (NetworkConfig.axes).
AXES: tuple[str, ...] = tuple(axis.value for axis in MODEL_AXES)
# Heads that read the audio embedding and take the artefact penalty.
_AUDIO_AXES = (Axis.OVERALL.value, Axis.MUSICALITY.value)


def softplus_inverse(values: torch.Tensor) -> torch.Tensor:
    """The raw parameter whose softplus is `values` (> 0; clamped to 1e-12), written so that it cannot overflow."""
    values = values.clamp_min(1e-12)
    return values + torch.log(-torch.expm1(-values))


def _blend_start(device: torch.device | None = None) -> nn.Parameter:
    """A composed overall axis's blend at its start: musicality plus the prompt's part of alignment, both x 1."""
    return nn.Parameter(softplus_inverse(torch.ones(2, device=device)))


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture hyper-parameters; stored in the checkpoint beside the weights."""

    channels: tuple[int, ...] = (16, 32, 64, 128)
    embed_dim: int = 128
    text_dim: int = 64
    head_hidden: int = 64
    axes: tuple[str, ...] = AXES
    # Whether the heads also get reward.ml.analysis figures (artefacts; tempo and key against the prompt).
    analysis: bool = True
    # Whether the artefact penalty also counts the low-frequency figures (hum, rumble; issue 16).
    low_frequency: bool = True
    # Whether overall is composed of the other two axes (`RewardNetwork.overall_compose`) instead of a head of its own.
    overall_composed: bool = False

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["channels"] = list(self.channels)
        values["axes"] = list(self.axes)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> NetworkConfig:
        values = dict(values)
        values["channels"] = tuple(values["channels"])
        values["axes"] = tuple(Axis(name).value for name in values["axes"])  # an unknown axis name is refused
        values.setdefault("analysis", False)  # checkpoints from before the analysis figures
        values.setdefault("low_frequency", False)  # and from before the low-frequency figures
        values.setdefault("overall_composed", False)  # and from before the composed overall axis
        return cls(**values)


@dataclass(frozen=True)
class Conditioning:
    """Prompt text, lyrics and reference-audio embeddings for a batch, one row per clip."""

    prompt: torch.Tensor
    lyrics: torch.Tensor
    reference: torch.Tensor
    # The tempo and key each row's prompt states (reward.ml.analysis.prompt_attributes), (batch, 5).
    attributes: torch.Tensor | None = None


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

    artefact_mean: torch.Tensor
    artefact_scale: torch.Tensor
    artefact_direction: torch.Tensor

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
        match = MATCH_DIM if self.config.analysis else 0
        self.artefact_weights = nn.ParameterDict()
        if self.config.analysis:
            # Standardisation of the artefact figures, set from the stage-1 data (stored with the weights).
            penalised = ARTEFACT_DIM + (LOW_DIM if self.config.low_frequency else 0)
            direction = ARTEFACT_DIRECTION + (LOW_DIRECTION if self.config.low_frequency else ())
            self.register_buffer("artefact_mean", torch.zeros(penalised))
            self.register_buffer("artefact_scale", torch.ones(penalised))
            self.register_buffer("artefact_direction", torch.tensor(direction))
            for axis in _AUDIO_AXES:
                if axis in self.config.axes and not (axis == Axis.OVERALL and self.config.overall_composed):
                    # softplus(-2) = 0.13: a small penalty per standard deviation until training sets it.
                    self.artefact_weights[axis] = nn.Parameter(torch.full((penalised,), -2.0))
        hidden = self.config.head_hidden
        self.heads = nn.ModuleDict()
        self.overall_blend: nn.Parameter | None = None
        if self.config.overall_composed:
            self._composed_check(self.config.axes)
            self.overall_blend = _blend_start()
        for axis in self.config.axes:
            if axis == Axis.OVERALL and self.config.overall_composed:
                continue
            if axis == Axis.MUSICALITY:
                self.heads[axis] = _head(embed, hidden)
            elif axis == Axis.OVERALL:
                self.heads[axis] = _head(embed + alignment_inputs + match, hidden)
            else:
                self.heads[axis] = _head(alignment_inputs + match, hidden)

    @staticmethod
    def _composed_check(axes: tuple[str, ...]) -> None:
        missing = {Axis.OVERALL.value, Axis.MUSICALITY.value, Axis.PROMPT_ALIGNMENT.value} - set(axes)
        if missing:
            raise ValueError(f"a composed overall axis needs the axes {sorted(missing)} too")

    def overall_compose(self) -> None:
        """Make overall a blend of the other two axes, in place: softplus(a) x musicality + softplus(b) x (prompt
        alignment with the clip's prompt, lyrics and reference less prompt alignment without them). The overall head
        and its artefact penalty go. Overall votes then set the blend and teach the prompt's part of alignment, and
        cannot teach that a damage sounds better: musicality answers for the sound (its own votes and penalty), and
        a clip without a prompt scores its musicality, so the quality ranking of unprompted audio is musicality's.
        The demo's faithful but dull system beats a clean one that ignores its prompt on overall; a head of its own
        learnt that from votes as "duller is better" and then preferred muffled and hummy copies of real music."""
        if self.config.overall_composed:
            return
        self._composed_check(self.config.axes)
        device = next(self.parameters()).device
        self.config = replace(self.config, overall_composed=True)
        del self.heads[Axis.OVERALL.value]
        if Axis.OVERALL.value in self.artefact_weights:
            del self.artefact_weights[Axis.OVERALL.value]
        self.overall_blend = _blend_start(device)

    def overall_blend_factors(self) -> tuple[float, float]:
        """(musicality's, prompt alignment's) factor in a composed overall axis."""
        if self.overall_blend is None:
            raise ValueError("this network's overall axis has a head of its own")
        first, second = F.softplus(self.overall_blend.detach()).tolist()
        return float(first), float(second)

    def null_conditioning(self, rows: int) -> Conditioning:
        """Conditioning for clips without a prompt, lyrics or reference audio."""
        return Conditioning(prompt=self.null_prompt.expand(rows, -1), lyrics=self.null_lyrics.expand(rows, -1),
                            reference=self.null_reference.expand(rows, -1))

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

    def artefact_standardise(self, analysis: torch.Tensor) -> None:
        """Set the artefact figures' standardisation from a sample of analysis vectors (rows, ANALYSIS_DIM)."""
        if not self.config.analysis:
            return
        artefacts = self._penalised_figures(analysis.to(torch.float32))
        self.artefact_mean.copy_(artefacts.mean(dim=0))
        self.artefact_scale.copy_(artefacts.std(dim=0).nan_to_num(1.0).clamp_min(1e-3))

    def _penalised_figures(self, analysis: torch.Tensor) -> torch.Tensor:
        """The figures the artefact penalty counts: the artefacts, then the low-frequency ones if built with them."""
        if self.config.low_frequency:
            return torch.cat([analysis[:, :ARTEFACT_DIM], analysis[:, LOW_START : LOW_START + LOW_DIM]], dim=1)
        return analysis[:, :ARTEFACT_DIM]

    def _analysis_inputs(
        self, analysis: torch.Tensor | None, conditioning: Conditioning, rows: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if analysis is None or analysis.shape != (rows, ANALYSIS_DIM):
            got = None if analysis is None else tuple(analysis.shape)
            raise ValueError(f"this network needs analysis figures of shape ({rows}, {ANALYSIS_DIM}), got {got}")
        analysis = analysis.to(self.artefact_mean.device, torch.float32)
        artefacts = ((self._penalised_figures(analysis) - self.artefact_mean) / self.artefact_scale).clamp(-8.0, 8.0)
        attributes = conditioning.attributes
        if attributes is None:
            attributes = torch.zeros(rows, ATTRIBUTE_DIM)
        match = attribute_match(analysis=analysis, attributes=attributes.to(analysis.device, torch.float32))
        return artefacts, match

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
            attributes=prompts.attributes,
        )

    def score_embeddings(
        self, audio: torch.Tensor, conditioning: Conditioning, analysis: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-axis scores (batch,) from audio embeddings, matching conditioning rows and, when the network was
        built with them, each row's analysis figures (reward.ml.analysis.analysis_vector)."""
        as_text = self.audio_to_text(audio)
        fit, damage = self._fit_inputs(as_text, conditioning, analysis, audio.shape[0])
        penalty = self._penalty(damage) if damage is not None else {}
        scores: dict[str, torch.Tensor] = {}
        for axis, head in self.heads.items():
            if axis == Axis.MUSICALITY:
                scores[axis] = head(audio).squeeze(1)
            elif axis == Axis.OVERALL:
                scores[axis] = head(torch.cat([audio, *fit], dim=1)).squeeze(1)
            else:
                scores[axis] = head(torch.cat(fit, dim=1)).squeeze(1)
            if axis in penalty:
                scores[axis] = scores[axis] - penalty[axis]
        if self.overall_blend is not None:
            # Prompt alignment of the same audio without a prompt, lyrics or reference (its analysis figures too,
            # which enter alignment only through the prompt's tempo and key): what the prompt adds.
            head = self.heads[Axis.PROMPT_ALIGNMENT.value]
            bare, _ = self._fit_inputs(as_text, self.null_conditioning(audio.shape[0]), analysis, audio.shape[0])
            prompted = scores[Axis.PROMPT_ALIGNMENT.value] - head(torch.cat(bare, dim=1)).squeeze(1)
            blend = F.softplus(self.overall_blend)
            # Overall votes set the blend but do not reach the musicality head (its own votes do).
            scores[Axis.OVERALL.value] = blend[0] * scores[Axis.MUSICALITY.value].detach() + blend[1] * prompted
        return scores

    def _fit_inputs(
        self, as_text: torch.Tensor, conditioning: Conditioning, analysis: torch.Tensor | None, rows: int
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """The prompt-fit inputs of the overall and alignment heads, and the penalised figures in their damage
        direction (None for a network without analysis figures)."""
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
        fit = [alignment]
        damage = None
        if self.config.analysis:
            artefacts, match = self._analysis_inputs(analysis, conditioning, rows)
            fit.append(match)
            damage = artefacts * self.artefact_direction  # rises with damage, figure by figure
        return fit, damage

    def _penalty(self, damage: torch.Tensor) -> dict[str, torch.Tensor]:
        return {axis: damage @ F.softplus(weights) for axis, weights in self.artefact_weights.items()}

    def artefact_damage(self, analysis: torch.Tensor) -> torch.Tensor:
        """The penalised figures of analysis vectors (rows, ANALYSIS_DIM), standardised and turned so that each rises
        with damage: the penalty of an axis is this (rows, figures) times the softplus of its weights."""
        rows = analysis.shape[0]
        artefacts, _ = self._analysis_inputs(analysis, Conditioning(
            prompt=torch.zeros(rows, 0), lyrics=torch.zeros(rows, 0), reference=torch.zeros(rows, 0)), rows)
        return artefacts * self.artefact_direction

    def artefact_penalty(self, analysis: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per audio axis, the artefact penalty (rows,) that score_embeddings subtracts, from analysis figures
        alone; empty for a network without them."""
        if not self.config.analysis:
            return {}
        return self._penalty(self.artefact_damage(analysis))

    def forward(
        self, log_mel: torch.Tensor, conditioning: Conditioning, analysis: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        return self.score_embeddings(self.encode_audio(log_mel), conditioning, analysis)


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
