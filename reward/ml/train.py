"""Training the reward network: stage 1 on pseudo-preference pairs (a clip beats a degraded copy of
itself; a clip fits its own prompt better than another's), stage 2 on people's votes with a
Bradley–Terry loss per axis. Pure functions: arrays and records in, a trained network and metrics out."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reward.ml.analysis import clip_analysis
from reward.ml.audio import (
    AudioSource,
    FrontEndConfig,
    audio_load_mono,
    audio_resample,
    crop_random,
    log_mel_normalise,
    mel_power,
)
from reward.ml.degrade import degradation_graded_pair, degradation_random, recording_variation
from reward.ml.interface import ClipInput, network_score_clips
from reward.ml.network import Conditioning, RewardNetwork, softplus_inverse
from reward.ml.text import text_batch

# (stage, done, total, figures so far) -> None; a tqdm bar or a log line, as the caller likes.
Progress = Callable[[str, int, int, Mapping[str, float]], None]

OUTCOME_TARGET = {"a": 1.0, "b": 0.0, "tie": 0.5}
OUTCOMES = ("a", "b", "tie", "both_bad")


def _report(progress: Progress | None, stage: str, done: int, total: int, figures: Mapping[str, float]) -> None:
    if progress is not None:
        progress(stage, done, total, figures)


def device_pick(*, device: str | None = None) -> torch.device:
    """The device asked for, else the GPU when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(*, seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# Stage 1: pseudo-preference pairs ------------------------------------------------------------


@dataclass(frozen=True)
class SourceClip:
    """Clean material for stage 1: mono samples at their own rate, with the prompt they answer."""

    samples: np.ndarray
    sample_rate: int
    prompt_text: str | None = None


@dataclass
class PretrainSet:
    """Precomputed stage-1 examples: normalised log-mel crops (float16 to halve the memory)."""

    better: torch.Tensor  # (pairs, n_mels, frames)
    worse: torch.Tensor
    better_analysis: torch.Tensor  # (pairs, ANALYSIS_DIM): reward.ml.analysis figures of the same crops
    worse_analysis: torch.Tensor
    source: torch.Tensor  # (pairs,) index of the source clip
    graded: torch.Tensor  # (pairs,) True when both sides are damaged, only by different amounts
    prompts: list[str | None]
    descriptions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.better.shape[0])

    def prompted_pairs(self) -> np.ndarray:
        """Indices of the pairs whose source has a prompt (all of them when none has)."""
        has_prompt = np.array([self.prompts[int(source)] is not None for source in self.source], dtype=bool)
        return np.flatnonzero(has_prompt) if has_prompt.any() else np.arange(len(self))


def _crop_samples(samples: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    if samples.shape[0] <= count:
        repeats = -(-count // max(samples.shape[0], 1))
        return np.tile(samples, repeats)[:count]
    start = int(rng.integers(0, samples.shape[0] - count + 1))
    return samples[start : start + count]


def _front_end(samples: np.ndarray, rate: int, config: FrontEndConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised log-mel of the first crop_frames, analysis figures of the same stretch of audio)."""
    waveform = audio_resample(mono=torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)),
                              orig_rate=rate, new_rate=config.sample_rate)
    power = mel_power(waveform=waveform, config=config)[:, : config.crop_frames]
    if power.shape[-1] < config.crop_frames:
        power = crop_random(power=power, frames=config.crop_frames, generator=np.random.default_rng(0))
    seen = waveform[: config.crop_frames * config.hop_length]
    return log_mel_normalise(power=power, config=config), clip_analysis(mono=seen, sample_rate=config.sample_rate)


_Pair = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, bool, str]
_ArrayPair = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, str]


def quality_pair_make(
    *, source: SourceClip, config: FrontEndConfig, rng: np.random.Generator, graded_probability: float = 0.2,
    mix: str = "synth",
) -> _Pair:
    """One pseudo-preference pair from a source:
    (better log-mel, worse log-mel, better analysis, worse analysis, graded?, how)."""
    # A little over a crop, so that filters settle before the part the network sees.
    count = int(round(config.crop_seconds * source.sample_rate)) + source.sample_rate // 10
    crop = _crop_samples(source.samples, count, rng)
    clean = recording_variation(samples=crop, sample_rate=source.sample_rate, rng=rng)
    if rng.random() < graded_probability:
        milder, harsher, mild, harsh = degradation_graded_pair(samples=clean, sample_rate=source.sample_rate, rng=rng,
                                                                   mix=mix)
        better, worse, graded = milder, harsher, True
        how = f"{mild.description} beats {harsh.description}"
    else:
        worse, applied = degradation_random(samples=clean, sample_rate=source.sample_rate, rng=rng, mix=mix)
        better, graded = clean, False
        how = "clean beats " + " then ".join(item.description for item in applied)
    skip = source.sample_rate // 10
    better_mel, better_analysis = _front_end(better[skip:], source.sample_rate, config)
    worse_mel, worse_analysis = _front_end(worse[skip:], source.sample_rate, config)
    return better_mel, worse_mel, better_analysis, worse_analysis, graded, how


# The sources, in each worker process (sent once per worker, not once per pair).
_WORKER_SOURCES: Sequence[SourceClip] = ()


def _worker_start(sources: Sequence[SourceClip]) -> None:
    global _WORKER_SOURCES
    _WORKER_SOURCES = sources
    torch.set_num_threads(1)


def _pair_job(job: tuple[int, int, int, FrontEndConfig, str]) -> _ArrayPair:
    index, source_index, seed, config, mix = job
    # One generator per pair, keyed by its index: the same pairs whatever the number of workers.
    rng = np.random.default_rng([seed, index])
    better, worse, better_analysis, worse_analysis, graded, how = quality_pair_make(
        source=_WORKER_SOURCES[source_index], config=config, rng=rng, mix=mix
    )
    # Plain arrays, not tensors: a tensor sent back from a worker travels as a shared-memory file descriptor, and
    # thousands of them in flight can run the process out of descriptors (the pool's result thread then dies).
    return better.half().numpy(), worse.half().numpy(), better_analysis.numpy(), worse_analysis.numpy(), graded, how


def pretrain_set_make(
    *,
    sources: Sequence[SourceClip],
    pairs: int,
    config: FrontEndConfig,
    seed: int,
    workers: int = 1,
    progress: Progress | None = None,
    mix: str = "synth",
) -> PretrainSet:
    """Draw `pairs` quality pairs, cycling through the sources so each is used about equally.
    With workers > 1 the pairs are made in worker processes; the result is the same."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(sources)) for _ in range(-(-pairs // len(sources)))])[:pairs]
    jobs = [(index, int(source), seed, config, mix) for index, source in enumerate(order)]
    made: list[_ArrayPair] = []
    if workers > 1:
        import multiprocessing

        # Spawned, not forked: forking a process whose torch thread pools are running can hang.
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=_worker_start, initargs=(list(sources),)) as pool:
            for item in pool.imap(_pair_job, jobs, chunksize=16):
                made.append(item)
                if len(made) % 50 == 0 or len(made) == pairs:
                    _report(progress, "pairs", len(made), pairs, {})
    else:
        threads = torch.get_num_threads()
        try:
            _worker_start(sources)
            for job in jobs:
                made.append(_pair_job(job))
                if len(made) % 50 == 0 or len(made) == pairs:
                    _report(progress, "pairs", len(made), pairs, {})
        finally:
            _worker_start(())
            torch.set_num_threads(threads)
    return PretrainSet(
        better=torch.from_numpy(np.stack([item[0] for item in made])),
        worse=torch.from_numpy(np.stack([item[1] for item in made])),
        better_analysis=torch.from_numpy(np.stack([item[2] for item in made])),
        worse_analysis=torch.from_numpy(np.stack([item[3] for item in made])),
        source=torch.tensor(order, dtype=torch.long),
        graded=torch.tensor([item[4] for item in made], dtype=torch.bool),
        prompts=[source.prompt_text for source in sources],
        descriptions=[item[5] for item in made],
    )


@dataclass(frozen=True)
class PretrainSettings:
    steps: int = 600
    batch_pairs: int = 16
    alignment_pairs: int = 8
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    prompt_probability: float = 0.5
    seed: int = 0
    # Pairs across pieces, so that what the piece is (instrument, tempo, key) does not move the quality score
    # when people compare clips that differ in content: a clean crop of one piece beats a damaged crop of another
    # (weight cross_source_weight), and two clean crops of different pieces tie (weight content_tie_weight).
    # Without them stage 1 only ever compares a clip with its own damaged copy, and the score's spread between
    # clean pieces came out as large as between damages (the demo's figures: NOTES.md).
    cross_source_weight: float = 1.0
    content_tie_weight: float = 0.5
    # The artefact penalty on its own must also rank each quality pair (weight of that loss; 0 leaves it out). The
    # heads learn damage faster than the penalty, which then kept its initial weights (the first builds with real
    # music: softplus 0.11-0.19 everywhere after 800 steps), so stage 2 could outvote it; fitted alone on real-mix
    # pairs it ranks hum and brown noise right in 92-100% of the test pairs (NOTES.md).
    penalty_alone_weight: float = 0.0
    # The penalty's weights learn at this multiple of the learning rate: AdamW moves a weight by about the learning
    # rate per step, so 800 steps at 2e-3 can take a penalty weight from softplus(-2) = 0.13 to at most about 0.4.
    penalty_learning_rate_factor: float = 1.0


@dataclass
class TrainResult:
    """A trained network with the figures to store in its checkpoint."""

    model: RewardNetwork
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)


def _warmup_cosine(steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear warm-up over the first 5% of steps, then a cosine decay to 2%."""
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _bt_loss(first: torch.Tensor, second: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Bradley–Terry: P(first beats second) = sigmoid(first - second), against a 0/½/1 target."""
    return F.binary_cross_entropy_with_logits(first - second, target)


def _conditioning(
    model: RewardNetwork, prompts: Sequence[str | None], reference: torch.Tensor | None, has_reference: torch.Tensor
) -> Conditioning:
    return model.conditioning(
        prompts=text_batch(texts=prompts, config=model.text),
        lyrics=text_batch(texts=[None] * len(prompts), config=model.text),
        reference_embedding=reference,
        reference_present=has_reference,
    )


def _pick_other(sources: torch.Tensor, prompts: Sequence[str | None], index: int, rng: np.random.Generator) -> int:
    """An example from another source whose prompt differs (tries a few times, then anything else)."""
    own = int(sources[index])
    for _ in range(8):
        other = int(rng.integers(0, sources.shape[0]))
        if int(sources[other]) != own and prompts[int(sources[other])] != prompts[own]:
            return other
    return (index + 1) % sources.shape[0]


def _same_source(by_source: Mapping[int, np.ndarray], source: int, index: int, rng: np.random.Generator) -> int:
    candidates = by_source[source]
    if candidates.shape[0] < 2:
        return index
    pick = int(rng.choice(candidates))
    return pick if pick != index else int(candidates[(np.searchsorted(candidates, index) + 1) % candidates.shape[0]])


def pretrain_accuracy(*, model: RewardNetwork, data: PretrainSet, batch: int = 64) -> dict[str, float]:
    """Shares of stage-1 examples ranked right: for overall and musicality, the better side of each
    pair scores higher (no prompt); for prompt alignment, a clip scores higher for its own prompt
    than a clip of another piece does for that prompt."""
    model.eval()
    device = next(model.parameters()).device
    wins = {"overall": 0, "musicality": 0}
    aligned, compared = 0, 0
    rng = np.random.default_rng(0)
    strangers = np.array([_pick_other(data.source, data.prompts, i, rng) for i in range(len(data))], dtype=np.int64)
    with torch.no_grad():
        for start in range(0, len(data), batch):
            better = data.better[start : start + batch].float().unsqueeze(1).to(device)
            worse = data.worse[start : start + batch].float().unsqueeze(1).to(device)
            rows = better.shape[0]
            condition = _conditioning(model, [None] * rows, None, torch.zeros(rows, dtype=torch.bool))
            high = model(better, condition, data.better_analysis[start : start + rows])
            low = model(worse, condition, data.worse_analysis[start : start + rows])
            for axis in wins:
                if axis in high:
                    wins[axis] += int((high[axis] > low[axis]).sum())
            if "prompt_alignment" in model.axes:
                prompts = [data.prompts[int(data.source[i])] for i in range(start, start + rows)]
                if all(prompts):
                    prompted = _conditioning(model, prompts, None, torch.zeros(rows, dtype=torch.bool))
                    others = data.better[strangers[start : start + rows]].float().unsqueeze(1).to(device)
                    own = model(better, prompted, data.better_analysis[start : start + rows])["prompt_alignment"]
                    foreign_analysis = data.better_analysis[strangers[start : start + rows]]
                    foreign = model(others, prompted, foreign_analysis)["prompt_alignment"]
                    aligned += int((own > foreign).sum())
                    compared += rows
    shares = {f"{axis}_accuracy": count / max(len(data), 1) for axis, count in wins.items() if axis in model.axes}
    if compared:
        shares["prompt_alignment_accuracy"] = aligned / compared
    return shares


@dataclass(frozen=True)
class _PretrainBatch:
    """One step's draw of stage-1 examples (indices into the PretrainSet)."""

    picks: np.ndarray  # quality pairs
    aligned: np.ndarray  # alignment pairs: a clip with its own prompt or reference...
    strangers: np.ndarray  # ...against a clip of another piece
    with_reference: np.ndarray  # (alignment_pairs,) bool: conditioned on reference audio
    references: np.ndarray  # another crop of the same piece, the reference audio


def _pretrain_batch_draw(
    *, data: PretrainSet, settings: PretrainSettings, by_source: Mapping[int, np.ndarray], rng: np.random.Generator
) -> _PretrainBatch:
    picks = rng.integers(0, len(data), settings.batch_pairs)
    # Alignment pairs come from pieces with a prompt (real recordings have none).
    prompted = data.prompted_pairs()
    aligned = prompted[rng.integers(0, prompted.shape[0], settings.alignment_pairs)]
    strangers = np.array([_pick_other(data.source, data.prompts, int(i), rng) for i in aligned], dtype=np.int64)
    # Reference audio: another crop of the same piece, for half the alignment pairs.
    with_reference = rng.random(settings.alignment_pairs) < 0.5
    references = np.array(
        [_same_source(by_source, int(data.source[i]), int(i), rng) for i in aligned], dtype=np.int64
    )
    return _PretrainBatch(picks=picks, aligned=aligned, strangers=strangers, with_reference=with_reference,
                          references=references)


def _cross_piece_losses(
    *, quality: Mapping[str, torch.Tensor], data: PretrainSet, picks: np.ndarray, settings: PretrainSettings,
    axes: set[str], device: torch.device,
) -> dict[str, torch.Tensor]:
    """Each pair's better side against the next pair's sides: different pieces, so content is no cue. A clean crop
    beats the other piece's damaged one; two clean crops of different pieces tie."""
    losses: dict[str, torch.Tensor] = {}
    q = settings.batch_pairs
    partner = np.roll(np.arange(q), -1)
    clean = ~data.graded[picks].numpy()
    apart = (data.source[picks].numpy() != data.source[picks[partner]].numpy()) & clean
    crossed = torch.from_numpy(apart).to(device)
    both_clean = torch.from_numpy(apart & clean[partner]).to(device)
    partner_t = torch.from_numpy(partner).to(device)
    for axis in ("overall", "musicality"):
        if axis not in axes:
            continue
        first = quality[axis][:q]
        if settings.cross_source_weight and crossed.any():
            worse_other = quality[axis][q:][partner_t]
            losses[f"cross_{axis}"] = settings.cross_source_weight * _bt_loss(
                first[crossed], worse_other[crossed], torch.ones_like(first[crossed]))
        if settings.content_tie_weight and both_clean.any():
            better_other = first[partner_t]
            losses[f"tie_{axis}"] = settings.content_tie_weight * _bt_loss(
                first[both_clean], better_other[both_clean], torch.full_like(first[both_clean], 0.5))
    return losses


def _alignment_losses(
    *, model: RewardNetwork, data: PretrainSet, batch: _PretrainBatch, embeddings: torch.Tensor,
    analysis: torch.Tensor, rng: np.random.Generator, device: torch.device,
) -> dict[str, torch.Tensor]:
    """A clip fits its own prompt (or a reference cut from its piece; sometimes the reference alone) better than a
    clip of another piece does. `embeddings`: own clips, strangers, references; `analysis`: own clips, strangers."""
    a = batch.aligned.shape[0]
    own_prompts: list[str | None] = [
        None if (batch.with_reference[k] and rng.random() < 0.5) else data.prompts[int(data.source[i])]
        for k, i in enumerate(batch.aligned)
    ]
    reference_embedding = embeddings[2 * a :]
    present = torch.from_numpy(batch.with_reference)
    condition = _conditioning(model, own_prompts * 2, reference_embedding.repeat(2, 1), present.repeat(2))
    alignment = model.score_embeddings(embeddings[: 2 * a], condition, analysis)
    ones = torch.ones(a, device=device)
    losses = {"alignment": _bt_loss(alignment["prompt_alignment"][:a], alignment["prompt_alignment"][a:], ones)}
    if "overall" in model.axes:
        losses["alignment_overall"] = 0.5 * _bt_loss(alignment["overall"][:a], alignment["overall"][a:], ones)
    return losses


def _pretrain_losses(
    *, model: RewardNetwork, data: PretrainSet, batch: _PretrainBatch, settings: PretrainSettings,
    rng: np.random.Generator, device: torch.device,
) -> dict[str, torch.Tensor]:
    """One step's losses by name: quality pairs within a piece (the less damaged side wins), across pieces, and
    alignment pairs. Every audio crop goes through the encoder once."""
    picks, aligned, strangers = batch.picks, batch.aligned, batch.strangers
    mels = torch.cat(
        [data.better[picks], data.worse[picks], data.better[aligned], data.better[strangers],
         data.better[batch.references]]
    ).float().unsqueeze(1).to(device)
    embeddings = model.encode_audio(mels)
    analysis = torch.cat(
        [data.better_analysis[picks], data.worse_analysis[picks], data.better_analysis[aligned],
         data.better_analysis[strangers]]
    ).to(device)
    q, a = settings.batch_pairs, settings.alignment_pairs
    axes = set(model.axes)
    quality_prompts = [
        data.prompts[int(data.source[i])] if rng.random() < settings.prompt_probability else None for i in picks
    ]
    quality_condition = _conditioning(model, quality_prompts * 2, None, torch.zeros(2 * q, dtype=torch.bool))
    quality = model.score_embeddings(embeddings[: 2 * q], quality_condition, analysis[: 2 * q])
    ones = torch.ones(q, device=device)
    losses: dict[str, torch.Tensor] = {}
    for axis in ("overall", "musicality"):
        if axis in axes:
            losses[f"quality_{axis}"] = _bt_loss(quality[axis][:q], quality[axis][q:], ones)
    if settings.penalty_alone_weight and model.config.analysis:
        penalty = model.artefact_penalty(analysis[: 2 * q])
        for axis, values in penalty.items():  # the worse side must carry the larger penalty
            losses[f"penalty_{axis}"] = settings.penalty_alone_weight * _bt_loss(values[q:], values[:q], ones)
    if settings.cross_source_weight or settings.content_tie_weight:
        losses.update(_cross_piece_losses(quality=quality, data=data, picks=picks, settings=settings, axes=axes,
                                          device=device))
    if a and "prompt_alignment" in axes:
        losses.update(_alignment_losses(model=model, data=data, batch=batch, embeddings=embeddings[2 * q :],
                                        analysis=analysis[2 * q :], rng=rng, device=device))
    return losses


def reward_pretrain(
    *,
    model: RewardNetwork,
    data: PretrainSet,
    settings: PretrainSettings,
    validation: PretrainSet | None = None,
    num_threads: int | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Stage 1. Each step mixes quality pairs (overall and musicality learn that the less damaged
    side wins, within a piece and across pieces, and that clean pieces tie) with alignment pairs
    (prompt alignment and overall learn that a clip fits its own prompt, or a reference cut from the
    same piece, better than another clip does)."""
    if num_threads:
        torch.set_num_threads(num_threads)
    seed_everything(seed=settings.seed)
    rng = np.random.default_rng(settings.seed)
    target_device = device_pick(device=device)
    model.artefact_standardise(torch.cat([data.better_analysis, data.worse_analysis]))
    model.to(target_device)
    penalty = {id(parameter) for parameter in model.artefact_weights.parameters()}
    groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if id(p) not in penalty]}]
    if penalty:
        groups.append({"params": list(model.artefact_weights.parameters()),
                       "lr": settings.learning_rate * settings.penalty_learning_rate_factor})
    optimiser = torch.optim.AdamW(groups, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _warmup_cosine(settings.steps))
    sources = data.source.numpy()
    by_source = {int(s): np.flatnonzero(sources == s) for s in np.unique(sources)}
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    running: dict[str, float] = {}
    for step in range(1, settings.steps + 1):
        model.train()
        batch = _pretrain_batch_draw(data=data, settings=settings, by_source=by_source, rng=rng)
        losses = _pretrain_losses(model=model, data=data, batch=batch, settings=settings, rng=rng,
                                  device=target_device)
        loss = torch.stack(list(losses.values())).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        schedule.step()
        for name, value in ((name, value.detach()) for name, value in losses.items()):
            running[name] = 0.95 * running.get(name, value.item()) + 0.05 * value.item()
        if step % 25 == 0 or step == settings.steps:
            figures = {name: round(value, 4) for name, value in running.items()}
            figures["seconds"] = round(time.perf_counter() - started, 1)
            history.append({"step": float(step), **figures})
            _report(progress, "pretrain", step, settings.steps, figures)
    metrics: dict[str, Any] = {
        "stage": "pretrain",
        "steps": settings.steps,
        "train_seconds": round(time.perf_counter() - started, 1),
        "final_losses": {name: round(value, 4) for name, value in running.items()},
    }
    if validation is not None and len(validation):
        metrics["validation_pairs"] = len(validation)
        accuracy = pretrain_accuracy(model=model, data=validation)
        metrics.update({f"validation_{key}": round(value, 4) for key, value in accuracy.items()})
    model.eval()
    return TrainResult(model=model, metrics=metrics, history=history)


# Stage 2: votes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteRecord:
    """One vote as plain data: the two clips as shown (A, B), the prompt, and the choice per axis.

    outcomes maps an axis name ("overall", "musicality", "prompt_alignment", ...) to "a", "b",
    "tie" or "both_bad"; axes the network lacks and both_bad choices are left out of the loss.
    group keys the held-out split (default: the prompt text), so no prompt is in both halves.
    """

    clip_a: AudioSource
    clip_b: AudioSource
    outcomes: Mapping[str, str]
    prompt_text: str | None = None
    lyrics: str | None = None
    reference: AudioSource | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        for axis, outcome in self.outcomes.items():
            if outcome not in OUTCOMES:
                raise ValueError(f"outcome for {axis!r} must be one of {OUTCOMES}, got {outcome!r}")

    @property
    def group_key(self) -> str:
        return self.group if self.group is not None else (self.prompt_text or "")


@dataclass(frozen=True)
class FinetuneSettings:
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    holdout_fraction: float = 0.2
    patience: int = 4
    seed: int = 0
    # With few votes, keeping the pre-trained audio encoder fixed guards against over-fitting.
    freeze_audio_encoder: bool = False
    # Fit each axis's temperature to the training votes before fine-tuning (scores_calibrate).
    calibrate: bool = True
    # Stage-1 pairs replayed in every batch (e.g. 8): a crop of a voted clip against a freshly damaged copy of
    # itself, for overall and musicality. Votes teach a catalogue's tastes (the demo's raters put a dull but
    # faithful system above a clean one that ignores the prompt); the replay keeps them from unteaching that damage
    # makes a clip worse than itself. Off by default: on the demo it kept the bundled model's overall axis
    # preferring clean real recordings to low-passed copies but cost overall accuracy on demo votes (NOTES.md).
    rehearsal_pairs: int = 0
    rehearsal_weight: float = 1.0
    # The damage mix the replayed pairs draw from (reward.ml.degrade.DAMAGE_MIXES): "real" also replays MP3,
    # dropouts and the mains buzz, which the "synth" mix never draws.
    rehearsal_mix: str = "synth"
    # Keep the artefact penalty's weights as stage 1 left them (the calibration still scales them with the axis), so
    # that votes cannot teach the penalty that a damage is harmless: the first build with real music learnt from the
    # demo's votes to prefer hummy copies (NOTES.md).
    freeze_artefact_penalty: bool = False


def records_split(
    *, records: Sequence[VoteRecord], holdout_fraction: float, seed: int
) -> tuple[list[VoteRecord], list[VoteRecord]]:
    """Split into (train, held out) by group, so that a prompt's votes all land on one side."""
    groups = sorted({record.group_key for record in records})
    if len(groups) < 2 or holdout_fraction <= 0:
        return list(records), []
    rng = np.random.default_rng(seed)
    shuffled = [groups[i] for i in rng.permutation(len(groups))]
    held = set(shuffled[: max(1, int(round(holdout_fraction * len(groups))))])
    if len(held) == len(groups):
        held.discard(shuffled[-1])
    return [r for r in records if r.group_key not in held], [r for r in records if r.group_key in held]


def _source_key(source: AudioSource) -> Any:
    if isinstance(source, tuple):
        return ("array", id(source[0]))
    return ("path", str(source))


class _MelCache:
    """Mel power and analysis figures of each distinct clip, computed once for the whole fine-tuning run."""

    def __init__(self, config: FrontEndConfig, *, analysis: bool, keep_audio: bool = False) -> None:
        self.config = config
        self.with_analysis = analysis  # only for networks that take the figures
        self.keep_audio = keep_audio  # the waveforms too, for the replayed stage-1 pairs
        self.powers: dict[Any, torch.Tensor] = {}
        self.analyses: dict[Any, torch.Tensor] = {}
        self.monos: dict[Any, torch.Tensor] = {}

    def _load(self, source: AudioSource) -> Any:
        key = _source_key(source)
        if key not in self.powers:
            mono = audio_load_mono(source=source, sample_rate=self.config.sample_rate)
            if self.keep_audio:
                self.monos[key] = mono
            self.powers[key] = mel_power(waveform=mono, config=self.config)
            if self.with_analysis:
                # Of the whole clip, as network_score_clips computes them when scoring.
                self.analyses[key] = clip_analysis(mono=mono, sample_rate=self.config.sample_rate)
        return key

    def power(self, source: AudioSource) -> torch.Tensor:
        return self.powers[self._load(source)]

    def analysis(self, source: AudioSource) -> torch.Tensor:
        return self.analyses[self._load(source)]

    def mono(self, source: AudioSource) -> torch.Tensor:
        return self.monos[self._load(source)]


def _rehearsal_loss(
    *, model: RewardNetwork, cache: _MelCache, records: Sequence[VoteRecord], pairs: int,
    rng: np.random.Generator, device: torch.device, temperature: Mapping[str, float], mix: str = "synth",
) -> torch.Tensor | None:
    """Bradley–Terry loss of stage-1 quality pairs made from the clips of `records` (clean side: the clip as it
    is, worse side: a random damage of it), summed over the overall and musicality axes the network has.

    The score differences are divided by each axis's calibration factor (`temperature`), so the replay asks for
    stage 1's certainty in stage 1's units: a certain outcome pushes scores apart without limit, and in vote
    units it would undo the calibration (the demo's held-out log-loss rose: NOTES.md)."""
    axes = [axis for axis in ("overall", "musicality") if axis in model.axes]
    if not axes or not pairs:
        return None
    better, worse, better_analysis, worse_analysis, prompts = [], [], [], [], []
    for index in rng.integers(0, len(records), pairs):
        record = records[int(index)]
        clip = record.clip_a if rng.random() < 0.5 else record.clip_b
        source = SourceClip(samples=cache.mono(clip).numpy(), sample_rate=model.front_end.sample_rate)
        high, low, high_analysis, low_analysis, _, _ = quality_pair_make(
            source=source, config=model.front_end, rng=rng, graded_probability=0.0, mix=mix
        )
        better.append(high)
        worse.append(low)
        better_analysis.append(high_analysis)
        worse_analysis.append(low_analysis)
        prompts.append(record.prompt_text if rng.random() < 0.5 else None)
    mels = torch.stack(better + worse).float().unsqueeze(1).to(device)
    analysis = torch.stack(better_analysis + worse_analysis).to(device) if model.config.analysis else None
    condition = _conditioning(model, prompts * 2, None, torch.zeros(2 * pairs, dtype=torch.bool))
    scores = model(mels, condition, analysis)
    ones = torch.ones(pairs, device=device)
    return torch.stack(
        [_bt_loss(scores[axis][:pairs] / temperature.get(axis, 1.0), scores[axis][pairs:] / temperature.get(axis, 1.0),
                  ones) for axis in axes]
    ).sum()


def _targets(records: Sequence[VoteRecord], axes: Iterable[str], swapped: np.ndarray) -> dict[str, torch.Tensor]:
    """Per axis, the target that side A (after swaps) wins, NaN where the vote says nothing."""
    out: dict[str, torch.Tensor] = {}
    for axis in axes:
        values = []
        for record, swap in zip(records, swapped, strict=True):
            outcome = record.outcomes.get(axis)
            target = OUTCOME_TARGET.get(outcome, math.nan) if outcome else math.nan
            values.append(1.0 - target if swap and not math.isnan(target) else target)
        out[axis] = torch.tensor(values, dtype=torch.float32)
    return out


def _clip_scores(*, model: RewardNetwork, records: Sequence[VoteRecord]) -> dict[str, np.ndarray]:
    """Per axis, (records, 2) scores of sides A and B, each distinct clip scored once (segment-averaged)."""
    keys: dict[tuple[Any, Any, str | None, str | None], int] = {}
    clips: list[ClipInput] = []
    index = np.zeros((len(records), 2), dtype=np.int64)
    for row, record in enumerate(records):
        for side, source in enumerate((record.clip_a, record.clip_b)):
            key = (_source_key(source), None if record.reference is None else _source_key(record.reference),
                   record.prompt_text, record.lyrics)
            if key not in keys:
                keys[key] = len(clips)
                clips.append(ClipInput(audio=source, prompt_text=record.prompt_text, lyrics=record.lyrics,
                                       reference=record.reference))
            index[row, side] = keys[key]
    scores = network_score_clips(network=model, clips=clips)
    return {axis: values[index] for axis, values in scores.items()}


def _bt_log_loss(difference: np.ndarray, target: np.ndarray) -> float:
    """Mean Bradley–Terry log-loss -[t log σ(d) + (1 - t) log σ(-d)], written so that a large |d| cannot overflow."""
    return float(np.mean(np.logaddexp(0.0, difference) - target * difference))


def votes_evaluate(*, model: RewardNetwork, records: Sequence[VoteRecord]) -> dict[str, Any]:
    """Per axis on whole clips (segment-averaged, as deployed): accuracy on decisive votes,
    Bradley–Terry log-loss with ties as ½, and counts."""
    if not records:
        return {}
    scores = _clip_scores(model=model, records=records)
    report: dict[str, Any] = {}
    for axis in model.axes:
        targets = np.array([OUTCOME_TARGET.get(r.outcomes.get(axis, ""), np.nan) for r in records])
        known = ~np.isnan(targets)
        if not known.any():
            continue
        difference = scores[axis][known, 0] - scores[axis][known, 1]
        target = targets[known]
        log_loss = _bt_log_loss(difference, target)
        decisive = target != 0.5
        accuracy = float(np.mean((difference[decisive] > 0) == (target[decisive] == 1.0))) if decisive.any() else None
        report[axis] = {
            "pairs": int(known.sum()),
            "decisive_pairs": int(decisive.sum()),
            "accuracy": None if accuracy is None else round(accuracy, 4),
            "log_loss": round(float(log_loss), 4),
        }
    return report


def axis_rescale(*, model: RewardNetwork, axis: str, factor: float) -> None:
    """Multiply an axis's scores by `factor` > 0 (its Bradley–Terry temperature) without changing the network's
    shape: the head's last layer and the axis's artefact-penalty weights are scaled in place."""
    if factor <= 0:
        raise ValueError(f"the scale of an axis must be positive, got {factor}")
    with torch.no_grad():
        if axis == "overall" and model.overall_blend is not None:  # composed: scale its blend
            model.overall_blend.copy_(softplus_inverse(F.softplus(model.overall_blend) * factor))
            return
        head = model.heads[axis]
        last = head[-1] if isinstance(head, nn.Sequential) else None
        if not isinstance(last, nn.Linear):
            raise ValueError(f"the {axis!r} head does not end in a linear layer")
        last.weight.mul_(factor)
        last.bias.mul_(factor)
        if axis in model.artefact_weights:
            raw = model.artefact_weights[axis]
            raw.copy_(softplus_inverse(F.softplus(raw) * factor))


def scores_calibrate(*, model: RewardNetwork, records: Sequence[VoteRecord]) -> dict[str, float]:
    """Fit each axis's temperature to votes (one factor per axis, by Bradley–Terry log-likelihood, ties ½) and
    apply it. It changes no ranking, only how sure the scores are: stage 1 learns from pairs with certain
    outcomes and comes out far too sure for people's votes, and fine-tuning from there spends its first epochs
    shrinking the scores, which moved the rankings too (held-out musicality fell on the demo: NOTES.md).
    Returns the factor applied per axis (1.0 where no vote speaks to the axis)."""
    from scipy.optimize import minimize_scalar

    factors = {axis: 1.0 for axis in model.axes}
    if not records:
        return factors
    # A composed overall axis is made of the others' scores: it is fitted last, on their calibrated scores.
    composed = model.overall_blend is not None
    order = [axis for axis in model.axes if not (composed and axis == "overall")] + (["overall"] if composed else [])
    scores = _clip_scores(model=model, records=records)
    for axis in order:
        if composed and axis == "overall":
            scores = _clip_scores(model=model, records=records)
        targets = np.array([OUTCOME_TARGET.get(r.outcomes.get(axis, ""), np.nan) for r in records])
        known = ~np.isnan(targets)
        if known.sum() < 2:
            continue
        difference = scores[axis][known, 0] - scores[axis][known, 1]
        target = targets[known]

        def loss(log_factor: float, difference: np.ndarray = difference, target: np.ndarray = target) -> float:
            return _bt_log_loss(math.exp(log_factor) * difference, target)

        best = minimize_scalar(loss, bounds=(math.log(1e-3), math.log(10.0)), method="bounded")
        factors[axis] = round(math.exp(float(best.x)), 6)
        axis_rescale(model=model, axis=axis, factor=factors[axis])
    return factors


def overall_blend_fit(*, model: RewardNetwork, records: Sequence[VoteRecord]) -> dict[str, Any]:
    """Fit a composed overall axis's two factors (musicality's, the prompt's part of prompt alignment's) to the
    overall votes by Bradley–Terry log-likelihood (ties ½; scipy's L-BFGS-B, both factors non-negative) and apply
    them; the other axes stay as they are. Stage 2 trains the blend with everything else by gradient steps, and
    the quality floor changes musicality after it (reward/ml/floor.py), so the build fits it again last.
    Returns the factors before and after, and the log-loss before and after."""
    from scipy import optimize

    if model.overall_blend is None:
        raise ValueError("this network's overall axis has a head of its own: there is no blend to fit")
    before = model.overall_blend_factors()
    targets = np.array([OUTCOME_TARGET.get(r.outcomes.get("overall", ""), np.nan) for r in records])
    known = ~np.isnan(targets)
    if known.sum() < 2:
        return {"before": list(before), "after": list(before), "votes": int(known.sum())}
    scores = _clip_scores(model=model, records=[r for r, k in zip(records, known, strict=True) if k])
    musicality = scores["musicality"][:, 0] - scores["musicality"][:, 1]
    prompted = (scores["overall"][:, 0] - scores["overall"][:, 1] - before[0] * musicality) / max(before[1], 1e-12)
    features = np.stack([musicality, prompted], axis=1)
    target = targets[known]

    def loss(factors: np.ndarray) -> float:
        return _bt_log_loss(features @ factors, target)

    fitted = optimize.minimize(loss, np.asarray(before), method="L-BFGS-B", bounds=[(1e-6, None)] * 2).x
    with torch.no_grad():
        values = torch.as_tensor(fitted, dtype=model.overall_blend.dtype, device=model.overall_blend.device)
        model.overall_blend.copy_(softplus_inverse(values))
    return {"before": [round(value, 6) for value in before],
            "after": [round(value, 6) for value in model.overall_blend_factors()],
            "votes": int(known.sum()), "log_loss_before": round(loss(np.asarray(before)), 4),
            "log_loss_after": round(loss(fitted), 4)}


def _vote_batch_scores(
    *, model: RewardNetwork, batch: Sequence[VoteRecord], swapped: np.ndarray, cache: _MelCache,
    rng: np.random.Generator, device: torch.device,
) -> dict[str, torch.Tensor]:
    """Per axis, the scores of a random crop of each vote's first side (after swaps), then of each second side."""
    frames = model.front_end.crop_frames
    firsts = [r.clip_b if s else r.clip_a for r, s in zip(batch, swapped, strict=True)]
    seconds = [r.clip_a if s else r.clip_b for r, s in zip(batch, swapped, strict=True)]
    crops = [crop_random(power=cache.power(c), frames=frames, generator=rng) for c in firsts + seconds]
    mels = log_mel_normalise(power=torch.stack(crops), config=model.front_end).unsqueeze(1).to(device)
    references = [r.reference for r in batch]
    has_reference = torch.tensor([ref is not None for ref in references], dtype=torch.bool)
    reference_embedding = None
    if has_reference.any():
        ref_crops = [
            crop_random(power=cache.power(ref), frames=frames, generator=rng) if ref is not None
            else torch.zeros(model.front_end.n_mels, frames)
            for ref in references
        ]
        ref_mels = log_mel_normalise(power=torch.stack(ref_crops), config=model.front_end).unsqueeze(1)
        reference_embedding = model.encode_audio(ref_mels.to(device)).repeat(2, 1)
    condition = model.conditioning(
        prompts=text_batch(texts=[r.prompt_text for r in batch] * 2, config=model.text),
        lyrics=text_batch(texts=[r.lyrics for r in batch] * 2, config=model.text),
        reference_embedding=reference_embedding,
        reference_present=has_reference.repeat(2),
    )
    analysis = torch.stack([cache.analysis(c) for c in firsts + seconds]) if model.config.analysis else None
    return model(mels, condition, analysis)


def _vote_batch_loss(
    *, model: RewardNetwork, batch: Sequence[VoteRecord], settings: FinetuneSettings, cache: _MelCache,
    calibration: Mapping[str, float], rng: np.random.Generator, device: torch.device,
) -> torch.Tensor | None:
    """The batch's Bradley–Terry loss, averaged over the axes its votes speak to (None when they speak to none),
    plus the replayed stage-1 pairs' loss when the settings ask for them. Sides are swapped at random."""
    swapped = rng.random(len(batch)) < 0.5
    scores = _vote_batch_scores(model=model, batch=batch, swapped=swapped, cache=cache, rng=rng, device=device)
    targets = _targets(batch, model.axes, swapped)
    parts = []
    n = len(batch)
    for axis in model.axes:
        target = targets[axis].to(device)
        known = ~torch.isnan(target)
        if known.any():
            parts.append(_bt_loss(scores[axis][:n][known], scores[axis][n:][known], target[known]))
    if not parts:
        return None
    loss = torch.stack(parts).mean()
    if settings.rehearsal_pairs and settings.rehearsal_weight:
        replay = _rehearsal_loss(model=model, cache=cache, records=batch, pairs=settings.rehearsal_pairs,
                                 rng=rng, device=device, temperature=calibration, mix=settings.rehearsal_mix)
        if replay is not None:
            loss = loss + settings.rehearsal_weight * replay
    return loss


def _finetune_epoch(
    *, model: RewardNetwork, train: Sequence[VoteRecord], settings: FinetuneSettings, cache: _MelCache,
    calibration: Mapping[str, float], optimiser: torch.optim.Optimizer, rng: np.random.Generator,
    device: torch.device,
) -> list[float]:
    """One pass over the training votes in a random order; returns each batch's loss."""
    model.train()
    if settings.freeze_audio_encoder:
        model.audio_encoder.eval()
    order = rng.permutation(len(train))
    losses: list[float] = []
    for start in range(0, len(order), settings.batch_size):
        batch = [train[int(i)] for i in order[start : start + settings.batch_size]]
        loss = _vote_batch_loss(model=model, batch=batch, settings=settings, cache=cache, calibration=calibration,
                                rng=rng, device=device)
        if loss is None:
            continue
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        losses.append(loss.item())
    return losses


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def reward_finetune(
    *,
    model: RewardNetwork,
    records: Sequence[VoteRecord],
    settings: FinetuneSettings | None = None,
    num_threads: int | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Stage 2: fine-tune on votes with a Bradley–Terry loss per axis (ties ½, both_bad left out),
    random side swaps and random crops, early stopping on prompt-grouped held-out votes.
    Returns the best network seen on the held-out votes (the last one when none are held out)."""
    settings = settings or FinetuneSettings()
    if num_threads:
        torch.set_num_threads(num_threads)
    seed_everything(seed=settings.seed)
    rng = np.random.default_rng(settings.seed)
    target_device = device_pick(device=device)
    model.to(target_device)
    usable = [r for r in records if any(r.outcomes.get(axis) in OUTCOME_TARGET for axis in model.axes)]
    train, held = records_split(records=usable, holdout_fraction=settings.holdout_fraction, seed=settings.seed)
    if not train:
        raise ValueError("no votes with a usable outcome (a, b or tie) on any axis of this network")
    calibration = scores_calibrate(model=model, records=train) if settings.calibrate else {}
    replaying = bool(settings.rehearsal_pairs and settings.rehearsal_weight)
    cache = _MelCache(model.front_end, analysis=model.config.analysis, keep_audio=replaying)
    for parameter in model.audio_encoder.parameters():
        parameter.requires_grad_(not settings.freeze_audio_encoder)
    if settings.freeze_artefact_penalty:
        for parameter in model.artefact_weights.parameters():
            parameter.requires_grad_(False)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    best_state = _state_copy(model)
    best_loss, best_epoch, stale = math.inf, 0, 0
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        epoch_losses = _finetune_epoch(model=model, train=train, settings=settings, cache=cache,
                                       calibration=calibration, optimiser=optimiser, rng=rng, device=target_device)
        model.eval()
        figures: dict[str, float] = {"epoch": float(epoch), "train_loss": float(np.mean(epoch_losses or [math.nan]))}
        if held:
            report = votes_evaluate(model=model, records=held)
            held_loss = float(np.mean([axis["log_loss"] for axis in report.values()]))
            figures["holdout_loss"] = held_loss
            if held_loss < best_loss - 1e-4:
                best_loss, best_epoch, stale = held_loss, epoch, 0
                best_state = _state_copy(model)
            else:
                stale += 1
        else:
            best_epoch = epoch
            best_state = _state_copy(model)
        history.append(figures)
        _report(progress, "finetune", epoch, settings.epochs, figures)
        if held and stale >= settings.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    metrics: dict[str, Any] = {
        "stage": "finetune",
        "train_votes": len(train),
        "holdout_votes": len(held),
        "holdout_groups": len({r.group_key for r in held}),
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "calibration": calibration,
        "train_seconds": round(time.perf_counter() - started, 1),
        "holdout": votes_evaluate(model=model, records=held) if held else {},
    }
    return TrainResult(model=model, metrics=metrics, history=history)
