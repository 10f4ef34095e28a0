"""Training: stage 1 learns from pseudo-preference pairs without votes; stage 2 learns from vote
records with a Bradley–Terry loss, ties as ½, both_bad left out, prompts kept apart by the split."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F

from demo.synth import random_spec, render, spec_prompt_text
from reward.ml.audio import FrontEndConfig
from reward.ml.degrade import lowpass, noise_add
from reward.ml.interface import ClipInput, network_score_clips
from reward.ml.network import NetworkConfig, RewardNetwork
from reward.ml.text import text_batch
from reward.ml.train import (
    FinetuneSettings,
    PretrainSettings,
    SourceClip,
    VoteRecord,
    _targets,
    axis_rescale,
    overall_blend_fit,
    pretrain_accuracy,
    pretrain_set_make,
    records_split,
    reward_finetune,
    reward_pretrain,
    scores_calibrate,
    votes_evaluate,
)

RATE = 16_000
TINY = NetworkConfig(channels=(8, 16, 16, 32), embed_dim=32, text_dim=16, head_hidden=16)


@pytest.fixture(autouse=True)
def _threads_restored() -> Iterator[None]:
    # Training sets torch's process-wide thread count; later tests should not inherit it.
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _pieces(count: int, seed: int, seconds: float = 4.0) -> list[SourceClip]:
    rng = np.random.default_rng(seed)
    pieces = []
    for index in range(count):
        spec = random_spec(rng, duration_s=seconds)
        stereo = render(spec, sample_rate=RATE, seed=seed * 1000 + index)
        pieces.append(SourceClip(samples=stereo.mean(axis=1), sample_rate=RATE, prompt_text=spec_prompt_text(spec)))
    return pieces


def test_stage_one_learns_to_prefer_clean_over_degraded_copies() -> None:
    config = FrontEndConfig()
    train = pretrain_set_make(sources=_pieces(4, seed=1), pairs=80, config=config, seed=1)
    held_out = pretrain_set_make(sources=_pieces(3, seed=2), pairs=45, config=config, seed=2)
    torch.manual_seed(0)
    model = RewardNetwork(front_end=config, network=TINY)
    # The artefact penalty is a prior built into the network (damage counts against a clip from the start), so
    # the untrained network already ranks most pairs right through it. What stage 1 learns from the audio shows
    # with the analysis figures made the same on both sides of every pair, which cancels the penalty.
    audio_only = replace(held_out, worse_analysis=held_out.better_analysis)
    model.artefact_standardise(torch.cat([train.better_analysis, train.worse_analysis]))
    before = pretrain_accuracy(model=model, data=held_out)
    before_audio = pretrain_accuracy(model=model, data=audio_only)
    seen: list[tuple[str, int]] = []
    result = reward_pretrain(
        model=model,
        data=train,
        validation=held_out,
        settings=PretrainSettings(steps=40, batch_pairs=16, alignment_pairs=4, learning_rate=3e-3, seed=0),
        num_threads=1,
        device="cpu",
        progress=lambda stage, done, total, figures: seen.append((stage, done)),
    )
    after = result.metrics["validation_musicality_accuracy"]
    after_audio = pretrain_accuracy(model=model, data=audio_only)
    print(f"held-out pairs preferring the better side: before {before}, after {result.metrics}; from the audio "
          f"alone: before {before_audio}, after {after_audio}")
    # Over seeds 0-4, torch threads 1 and 2, ATEN_CPU_CAPABILITY=default and AVX2 (NOTES.md, "Tests that train or
    # time things"), 45 held-out pairs: musicality 0.82-1.00 and overall 0.82-1.00 with the analysis figures, and
    # from the audio alone musicality 0.71-1.00 and overall 0.73-1.00. The bounds leave room below that spread.
    assert after >= 0.7
    # From the audio alone too the trained network ranks most pairs right, and it learned to: an untrained head
    # may land anywhere (this one's musicality head happens to start high, its overall head below chance: 0.40 on
    # every machine, as torch's CPU generator draws the same weights everywhere; after training 0.89-1.00 over
    # threads and kernels; other seeds' heads start elsewhere and gain 0.07-0.40).
    assert after_audio["musicality_accuracy"] >= 0.6 and after_audio["overall_accuracy"] >= 0.6
    assert after_audio["overall_accuracy"] >= before_audio["overall_accuracy"] + 0.15
    assert result.metrics["validation_overall_accuracy"] >= 0.7
    assert seen[-1] == ("pretrain", 40)


def test_stage_one_can_fit_the_artefact_penalty_on_its_own() -> None:
    """With penalty_alone_weight the penalty must rank the quality pairs by itself too, and with a larger learning
    rate its weights leave their initial value (without, the heads learnt the damage and the penalty kept its start
    in the first builds with real music: NOTES.md)."""
    config = FrontEndConfig()
    train = pretrain_set_make(sources=_pieces(3, seed=1, seconds=3.0), pairs=48, config=config, seed=1)
    moved, alone = {}, {}
    for weight, factor in ((0.0, 1.0), (1.0, 30.0)):
        torch.manual_seed(0)
        model = RewardNetwork(front_end=config, network=TINY)
        start = {axis: F.softplus(w).detach().clone() for axis, w in model.artefact_weights.items()}
        result = reward_pretrain(
            model=model, data=train, num_threads=1, device="cpu",
            settings=PretrainSettings(steps=20, batch_pairs=8, alignment_pairs=2, learning_rate=3e-3, seed=0,
                                      penalty_alone_weight=weight, penalty_learning_rate_factor=factor),
        )
        assert ("penalty_overall" in result.metrics["final_losses"]) == bool(weight)
        moved[weight] = max(float((F.softplus(w.detach()) - start[axis]).abs().max()) for axis, w in
                            model.artefact_weights.items())
        with torch.no_grad():
            better, worse = model.artefact_penalty(train.better_analysis), model.artefact_penalty(train.worse_analysis)
        alone[weight] = float((worse["overall"] > better["overall"]).float().mean())
    print("largest move of a penalty weight", moved, "pairs the penalty alone ranks right", alone)
    assert moved[1.0] > 2 * moved[0.0]
    assert alone[1.0] >= alone[0.0]


def test_pairs_across_pieces_keep_the_quality_score_from_following_the_piece() -> None:
    """Stage 1 with and without the cross-piece pairs, from the same start: with them, clean crops of the pieces it
    trained on score closer together, measured against the gap between a clean crop and its damaged copy.

    Measured (NOTES.md, "Tests that train or time things") on seed 0 with ATEN_CPU_CAPABILITY=default and AVX2, on
    two threads, and on seed 1: without the pairs 0.85-1.03, with them 0.016-0.040. On six held-out pieces the same
    figure moved more between kernels and seeds than between the two settings (0.80-0.93 without, 0.65-0.80
    with), so it is no test of the pairs at this size."""
    config = FrontEndConfig()
    train = pretrain_set_make(sources=_pieces(6, seed=7, seconds=3.0), pairs=96, config=config, seed=7)
    clean = ~train.graded

    def spread_to_margin(cross: float, tie: float) -> float:
        torch.manual_seed(0)
        model = RewardNetwork(front_end=config, network=TINY)
        settings = PretrainSettings(steps=200, batch_pairs=16, alignment_pairs=4, learning_rate=3e-3, seed=0,
                                    cross_source_weight=cross, content_tie_weight=tie)
        reward_pretrain(model=model, data=train, settings=settings, num_threads=1, device="cpu")
        rows = int(clean.sum())
        with torch.no_grad():
            condition = model.conditioning(
                prompts=text_batch(texts=[None] * rows, config=model.text),
                lyrics=text_batch(texts=[None] * rows, config=model.text),
                reference_embedding=None, reference_present=torch.zeros(rows, dtype=torch.bool),
            )
            better = model(train.better[clean].float().unsqueeze(1), condition, train.better_analysis[clean])
            worse = model(train.worse[clean].float().unsqueeze(1), condition, train.worse_analysis[clean])
        scores, margin = better["musicality"], (better["musicality"] - worse["musicality"]).mean()
        # Spread of the clean crops' scores between pieces: the standard deviation of the per-piece means.
        pieces = train.source[clean]
        means = torch.stack([scores[pieces == piece].mean() for piece in pieces.unique()])
        return float(means.std() / margin.abs())

    within_only, across = spread_to_margin(0.0, 0.0), spread_to_margin(1.0, 0.5)
    print(f"between-piece spread of clean scores / clean-vs-damaged margin: {within_only:.3f} without the "
          f"cross-piece pairs, {across:.3f} with them")
    assert across < 0.25 * within_only


def test_pair_making_gives_the_same_pairs_with_any_number_of_workers() -> None:
    pieces = _pieces(2, seed=3, seconds=3.0)
    config = FrontEndConfig()
    alone = pretrain_set_make(sources=pieces, pairs=8, config=config, seed=4, workers=1)
    shared = pretrain_set_make(sources=pieces, pairs=8, config=config, seed=4, workers=2)
    assert torch.equal(alone.better, shared.better) and torch.equal(alone.worse, shared.worse)
    assert torch.equal(alone.better_analysis, shared.better_analysis)
    assert alone.descriptions == shared.descriptions


def test_outcomes_become_targets_for_side_a_after_swaps() -> None:
    records = [
        VoteRecord(clip_a="a.wav", clip_b="b.wav", outcomes={"overall": "a", "musicality": "tie"}),
        VoteRecord(clip_a="a.wav", clip_b="b.wav", outcomes={"overall": "b", "musicality": "both_bad"}),
        VoteRecord(clip_a="a.wav", clip_b="b.wav", outcomes={"overall": "tie"}),
    ]
    targets = _targets(records, ("overall", "musicality"), np.array([False, True, True]))
    assert targets["overall"].tolist() == [1.0, 1.0, 0.5]
    musicality = targets["musicality"].tolist()
    assert musicality[0] == 0.5 and math.isnan(musicality[1]) and math.isnan(musicality[2])


def test_it_refuses_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="overall"):
        VoteRecord(clip_a="a.wav", clip_b="b.wav", outcomes={"overall": "A"})


def test_the_held_out_split_never_shares_a_prompt_with_training() -> None:
    records = [
        VoteRecord(clip_a=f"{i}a.wav", clip_b=f"{i}b.wav", outcomes={"overall": "a"}, prompt_text=f"prompt {i % 7}")
        for i in range(70)
    ]
    train, held = records_split(records=records, holdout_fraction=0.3, seed=0)
    assert len(train) + len(held) == 70 and held
    assert not {r.prompt_text for r in train} & {r.prompt_text for r in held}
    again = records_split(records=records, holdout_fraction=0.3, seed=0)
    assert [r.clip_a for r in again[1]] == [r.clip_a for r in held]


def _vote_records(tmp_path: Path, prompts: int, per_prompt: int) -> list[VoteRecord]:
    """Votes that prefer the clean version of a piece over a damaged one, sides shuffled, with some
    ties between two clean takes and some both_bad."""
    rng = np.random.default_rng(5)
    records = []
    pieces = _pieces(prompts, seed=6, seconds=3.0)
    for p, piece in enumerate(pieces):
        clean_path = tmp_path / f"clean{p}.wav"
        soundfile.write(clean_path, piece.samples, RATE)
        for k in range(per_prompt):
            if k % 2:
                damaged = noise_add(samples=piece.samples, snr_db=float(rng.uniform(0, 15)), rng=rng)
            else:
                damaged = lowpass(samples=piece.samples, sample_rate=RATE, cutoff_hz=float(rng.uniform(800, 2500)))
            damaged_path = tmp_path / f"damaged{p}_{k}.wav"
            soundfile.write(damaged_path, damaged / max(1.0, float(np.abs(damaged).max())), RATE)
            clean_first = bool(rng.random() < 0.5)
            winner = "a" if clean_first else "b"
            records.append(
                VoteRecord(
                    clip_a=clean_path if clean_first else damaged_path,
                    clip_b=damaged_path if clean_first else clean_path,
                    outcomes={"overall": winner, "musicality": winner if k != 2 else "both_bad"},
                    prompt_text=piece.prompt_text,
                    group=f"prompt-{p}",
                )
            )
        records.append(
            VoteRecord(clip_a=clean_path, clip_b=clean_path, outcomes={"overall": "tie"}, group=f"prompt-{p}")
        )
    return records


def test_stage_two_fits_votes_and_reports_held_out_prompts(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=6, per_prompt=4)
    torch.manual_seed(1)
    model = RewardNetwork(network=TINY)
    before = votes_evaluate(model=model, records=records)
    result = reward_finetune(
        model=model,
        records=records,
        settings=FinetuneSettings(epochs=12, batch_size=8, learning_rate=3e-3, holdout_fraction=0.34, patience=3),
        num_threads=1,
    )
    metrics = result.metrics
    print("before", before, "after", metrics)
    assert metrics["holdout_groups"] == 2
    assert metrics["train_votes"] + metrics["holdout_votes"] == len(records)
    assert 1 <= metrics["epochs_run"] <= 12 and 1 <= metrics["best_epoch"] <= metrics["epochs_run"]
    assert set(metrics["holdout"]) == {"overall", "musicality"}
    # Early stopping keeps the best epoch: its held-out loss is the lowest in the history (an epoch counts as
    # better only by more than 1e-4, so a later one may be lower by less than that), and no earlier epoch was
    # better than it.
    losses = [row["holdout_loss"] for row in result.history]
    best = metrics["best_epoch"]
    assert losses[best - 1] <= min(losses) + 1e-4
    assert all(loss >= losses[best - 1] - 1e-4 for loss in losses[: best - 1])
    trained = votes_evaluate(model=result.model, records=records)
    assert trained["overall"]["accuracy"] >= 0.8  # 1.00 over seeds 0-4, threads 1 and 2, default and AVX2 kernels
    assert trained["overall"]["decisive_pairs"] == 24 and trained["overall"]["pairs"] == 30
    # both_bad votes are left out of the musicality axis.
    assert trained["musicality"]["pairs"] == 24 - 6


def test_stage_two_without_usable_votes_says_so(tmp_path: Path) -> None:
    records = [VoteRecord(clip_a="a.wav", clip_b="b.wav", outcomes={"overall": "both_bad"})]
    with pytest.raises(ValueError, match="usable"):
        reward_finetune(model=RewardNetwork(network=TINY), records=records)


def test_stage_two_can_keep_the_audio_encoder_fixed(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=2, per_prompt=2)
    torch.manual_seed(2)
    model = RewardNetwork(network=TINY)
    encoder_before = {name: value.clone() for name, value in model.audio_encoder.state_dict().items()}
    head_before = model.heads["overall"][0].weight.clone()
    result = reward_finetune(
        model=model,
        records=records,
        settings=FinetuneSettings(epochs=2, batch_size=4, holdout_fraction=0.0, freeze_audio_encoder=True),
    )
    for name, value in result.model.audio_encoder.state_dict().items():
        assert torch.equal(value, encoder_before[name]), name
    assert not torch.equal(result.model.heads["overall"][0].weight, head_before)
    assert result.metrics["holdout_votes"] == 0 and result.metrics["epochs_run"] == 2


def test_stage_two_can_keep_the_artefact_penalty_as_stage_one_left_it(tmp_path: Path) -> None:
    """Votes (here: always for the clean side) move the heads but not the penalty's weights; only the calibration
    scales them, with the axis."""
    records = _vote_records(tmp_path, prompts=2, per_prompt=2)
    torch.manual_seed(2)
    model = RewardNetwork(network=TINY)
    penalty_before = {axis: F.softplus(weights).detach().clone() for axis, weights in model.artefact_weights.items()}
    head_before = model.heads["overall"][0].weight.clone()
    settings = FinetuneSettings(epochs=2, batch_size=4, holdout_fraction=0.0, freeze_audio_encoder=True,
                                freeze_artefact_penalty=True, rehearsal_pairs=2, rehearsal_mix="real")
    result = reward_finetune(model=model, records=records, settings=settings)
    calibration = result.metrics["calibration"]
    for axis, weights in result.model.artefact_weights.items():
        assert torch.allclose(F.softplus(weights), penalty_before[axis] * calibration[axis], rtol=1e-4), axis
        assert weights.requires_grad  # handed back trainable, as the rest of the network
    assert not torch.equal(result.model.heads["overall"][0].weight, head_before)


def test_rescaling_an_axis_multiplies_its_scores_and_leaves_the_others(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=2, per_prompt=2)
    torch.manual_seed(3)
    model = RewardNetwork(network=TINY)
    clips = [ClipInput(audio=r.clip_a, prompt_text=r.prompt_text) for r in records]
    before = network_score_clips(network=model, clips=clips)
    axis_rescale(model=model, axis="musicality", factor=0.25)
    after = network_score_clips(network=model, clips=clips)
    np.testing.assert_allclose(after["musicality"], 0.25 * before["musicality"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after["overall"], before["overall"], rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        axis_rescale(model=model, axis="overall", factor=0.0)


def test_calibration_fits_each_axis_temperature_without_changing_a_ranking(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=3, per_prompt=4)
    torch.manual_seed(4)
    model = RewardNetwork(network=TINY)
    # Far too sure, as stage 1 leaves the network: every score times 40.
    for axis in model.axes:
        axis_rescale(model=model, axis=axis, factor=40.0)
    before = votes_evaluate(model=model, records=records)
    factors = scores_calibrate(model=model, records=records)
    after = votes_evaluate(model=model, records=records)
    assert set(factors) == {"overall", "musicality", "prompt_alignment"}
    assert factors["prompt_alignment"] == 1.0  # no vote says anything about it
    for axis in ("overall", "musicality"):
        assert after[axis]["accuracy"] == before[axis]["accuracy"]
        # The fitted temperature is the log-likelihood optimum: no worse than before, nor than a nearby factor.
        assert after[axis]["log_loss"] <= before[axis]["log_loss"] + 1e-6
        for nudge in (0.7, 1.4):
            nudged = RewardNetwork(network=TINY)
            nudged.load_state_dict(model.state_dict())
            axis_rescale(model=nudged, axis=axis, factor=nudge)
            assert votes_evaluate(model=nudged, records=records)[axis]["log_loss"] >= after[axis]["log_loss"] - 1e-3


def test_replayed_quality_pairs_keep_votes_from_unteaching_that_damage_is_worse(tmp_path: Path) -> None:
    """Votes that always prefer the damaged side (a catalogue whose raters like it dull) pull a fine-tuned network
    towards damage; with the stage-1 pairs replayed in each batch it still ranks clean crops above their damaged
    copies far more often than without."""
    config = FrontEndConfig()
    train = pretrain_set_make(sources=_pieces(4, seed=1), pairs=80, config=config, seed=1)
    held_out = pretrain_set_make(sources=_pieces(3, seed=2), pairs=45, config=config, seed=2)
    torch.manual_seed(0)
    start = RewardNetwork(front_end=config, network=TINY)
    reward_pretrain(model=start, data=train, num_threads=1, device="cpu",
                    settings=PretrainSettings(steps=40, batch_pairs=16, alignment_pairs=4, learning_rate=3e-3))
    contrary = [
        replace(record, outcomes={axis: {"a": "b", "b": "a"}.get(outcome, outcome)
                                  for axis, outcome in record.outcomes.items()})
        for record in _vote_records(tmp_path, prompts=3, per_prompt=4)
    ]

    def clean_wins(rehearsal_pairs: int) -> float:
        model = RewardNetwork(front_end=config, network=TINY)
        model.load_state_dict(start.state_dict())
        settings = FinetuneSettings(epochs=6, batch_size=8, learning_rate=3e-3, holdout_fraction=0.0, seed=0,
                                    rehearsal_pairs=rehearsal_pairs)
        tuned = reward_finetune(model=model, records=contrary, settings=settings, num_threads=1).model
        return pretrain_accuracy(model=tuned, data=held_out)["musicality_accuracy"]

    without, replayed = clean_wins(0), clean_wins(8)
    print(f"held-out crops ranked above their damaged copies after contrary votes: {without:.3f} without replay, "
          f"{replayed:.3f} with it")
    # Measured over seeds 0-4, torch threads 1 and 2, ATEN_CPU_CAPABILITY=default and AVX2 (NOTES.md, "Tests that
    # train or time things"): without replay 0.02-0.09, with it 0.84-1.00 (and 0.733 on the issue's machine). The
    # bounds sit well below that spread and far above what the network keeps without replay.
    assert replayed >= without + 0.3
    assert replayed >= 0.5


def _composed(seed: int) -> RewardNetwork:
    torch.manual_seed(seed)
    model = RewardNetwork(network=TINY)
    model.overall_compose()
    return model


def test_rescaling_a_composed_overall_scales_its_blend(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=2, per_prompt=2)
    model = _composed(3)
    clips = [ClipInput(audio=r.clip_a, prompt_text=r.prompt_text) for r in records]
    before = network_score_clips(network=model, clips=clips)
    axis_rescale(model=model, axis="overall", factor=0.5)
    after = network_score_clips(network=model, clips=clips)
    np.testing.assert_allclose(after["overall"], 0.5 * before["overall"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after["musicality"], before["musicality"], rtol=1e-6)


def test_calibration_fits_a_composed_overall_after_the_axes_it_is_made_of(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=3, per_prompt=4)
    model = _composed(4)
    factors = scores_calibrate(model=model, records=records)
    assert factors["musicality"] != 1.0 and factors["overall"] != 1.0
    after = votes_evaluate(model=model, records=records)
    # Overall's temperature is the optimum for musicality as calibrated (fitted after it): no nudge does better.
    for nudge in (0.7, 1.4):
        nudged = RewardNetwork.from_hyperparameters(model.hyperparameters())
        nudged.load_state_dict(model.state_dict())
        axis_rescale(model=nudged, axis="overall", factor=nudge)
        nudged_loss = votes_evaluate(model=nudged, records=records)["overall"]["log_loss"]
        assert nudged_loss >= after["overall"]["log_loss"] - 1e-3


def test_the_blend_fit_improves_the_overall_votes_log_loss_and_leaves_the_other_axes(tmp_path: Path) -> None:
    records = _vote_records(tmp_path, prompts=3, per_prompt=4)
    model = _composed(5)
    with torch.no_grad():
        model.overall_blend.copy_(torch.tensor([-6.0, 3.0]))  # almost no musicality, a lot of prompt
    before = votes_evaluate(model=model, records=records)
    report = overall_blend_fit(model=model, records=records)
    after = votes_evaluate(model=model, records=records)
    assert report["log_loss_after"] <= report["log_loss_before"]
    assert after["overall"]["log_loss"] == pytest.approx(report["log_loss_after"], abs=1e-3)
    assert report["after"][0] > report["before"][0]  # these votes follow the sound, not the prompt
    assert after["musicality"] == before["musicality"]
    with pytest.raises(ValueError, match="head of its own"):
        overall_blend_fit(model=RewardNetwork(network=TINY), records=records)


def test_stage_two_trains_a_composed_network_without_touching_musicality_through_overall_votes(
    tmp_path: Path,
) -> None:
    records = [r for r in _vote_records(tmp_path, prompts=2, per_prompt=2)]
    only_overall = [VoteRecord(clip_a=r.clip_a, clip_b=r.clip_b, outcomes={"overall": r.outcomes["overall"]},
                               prompt_text=r.prompt_text, group=r.group) for r in records]
    model = _composed(6)
    head_before = {name: value.clone() for name, value in model.heads["musicality"].state_dict().items()}
    blend_before = model.overall_blend_factors()
    settings = FinetuneSettings(epochs=2, batch_size=4, holdout_fraction=0.0, freeze_audio_encoder=True,
                                freeze_artefact_penalty=True, calibrate=False)
    result = reward_finetune(model=model, records=only_overall, settings=settings)
    for name, value in result.model.heads["musicality"].state_dict().items():
        assert torch.equal(value, head_before[name]), name
    assert result.model.overall_blend_factors() != blend_before
