"""The reward network: size, heads, null embeddings for absent inputs, segment-averaged scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reward.ml.analysis import ANALYSIS_DIM, ARTEFACT_DIM, LOW_DIM, LOW_START, analysis_vector
from reward.ml.checkpoint import checkpoint_load, checkpoint_save
from reward.ml.interface import ClipInput, network_score_clips
from reward.ml.network import AXES, Conditioning, NetworkConfig, RewardNetwork, parameter_count
from reward.ml.text import text_batch


def _music(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * time) / k for k, f in enumerate((220, 330, 440, 660), start=1))
    return (0.2 * tone * (1 + 0.5 * np.sin(2 * np.pi * 2 * time)) + 0.01 * rng.standard_normal(time.shape)).astype(
        np.float32
    )


def _model() -> RewardNetwork:
    torch.manual_seed(0)
    model = RewardNetwork()
    # Non-zero nulls so that "the null was used" is visible in the output.
    with torch.no_grad():
        model.null_prompt.normal_()
        model.null_lyrics.normal_()
        model.null_reference.normal_()
    return model.eval()


def _analysis(rows: int) -> torch.Tensor:
    return torch.stack([analysis_vector(waveform=torch.from_numpy(_music(2.0, 24_000, seed))) for seed in range(rows)])


def test_it_has_at_most_five_million_parameters() -> None:
    assert parameter_count(model=RewardNetwork()) <= 5_000_000


def test_it_scores_every_axis_for_every_segment() -> None:
    model = _model()
    mels = torch.randn(3, 1, model.front_end.n_mels, model.front_end.crop_frames)
    condition = model.conditioning(
        prompts=text_batch(texts=["calm piano", None, "drums"], config=model.text),
        lyrics=text_batch(texts=[None, None, "la la"], config=model.text),
        reference_embedding=None,
        reference_present=torch.zeros(3, dtype=torch.bool),
    )
    scores = model(mels, condition, _analysis(3))
    assert tuple(scores) == AXES
    assert all(value.shape == (3,) for value in scores.values())


def test_it_uses_the_learned_null_embeddings_when_inputs_are_absent() -> None:
    model = _model()
    absent = model.conditioning(
        prompts=text_batch(texts=[None, ""], config=model.text),
        lyrics=text_batch(texts=[None, None], config=model.text),
        reference_embedding=None,
        reference_present=torch.zeros(2, dtype=torch.bool),
    )
    assert torch.equal(absent.prompt, model.null_prompt.expand(2, -1))
    assert torch.equal(absent.lyrics, model.null_lyrics.expand(2, -1))
    assert torch.equal(absent.reference, model.null_reference.expand(2, -1))
    present = model.conditioning(
        prompts=text_batch(texts=["calm piano"], config=model.text),
        lyrics=text_batch(texts=["hello"], config=model.text),
        reference_embedding=torch.randn(1, model.config.embed_dim),
        reference_present=torch.ones(1, dtype=torch.bool),
    )
    assert not torch.equal(present.prompt[0], model.null_prompt)
    assert not torch.equal(present.lyrics[0], model.null_lyrics)
    assert not torch.equal(present.reference[0], model.null_reference)


def test_changing_the_null_prompt_moves_only_clips_without_a_prompt() -> None:
    model = _model()
    audio = (_music(3.0, 24_000, 0), 24_000)
    with_prompt = ClipInput(audio=audio, prompt_text="calm piano")
    without = ClipInput(audio=audio)
    before = network_score_clips(network=model, clips=[with_prompt, without])
    with torch.no_grad():
        model.null_prompt.add_(1.0)
    after = network_score_clips(network=model, clips=[with_prompt, without])
    assert before["prompt_alignment"][0] == after["prompt_alignment"][0]
    assert before["prompt_alignment"][1] != after["prompt_alignment"][1]
    # Musicality ignores the prompt altogether.
    assert before["musicality"][1] == after["musicality"][1]


def test_it_averages_segment_scores_over_a_long_clip() -> None:
    model = _model()
    audio = _music(9.0, 24_000, 1)
    whole = network_score_clips(network=model, clips=[ClipInput(audio=(audio, 24_000))])
    from reward.ml.audio import clip_segments

    segments = clip_segments(source=(audio, 24_000), config=model.front_end)
    assert segments.shape[0] > 1
    condition = model.conditioning(
        prompts=text_batch(texts=[None] * segments.shape[0], config=model.text),
        lyrics=text_batch(texts=[None] * segments.shape[0], config=model.text),
        reference_embedding=None,
        reference_present=torch.zeros(segments.shape[0], dtype=torch.bool),
    )
    from reward.ml.analysis import clip_analysis

    analysis = clip_analysis(mono=torch.from_numpy(audio), sample_rate=24_000).expand(segments.shape[0], -1)
    with torch.no_grad():
        each = model(segments, condition, analysis)
    for axis in AXES:
        assert np.isclose(whole[axis][0], float(each[axis].mean()), atol=1e-5)


def test_a_reference_clip_changes_alignment_but_not_musicality() -> None:
    model = _model()
    audio = (_music(3.0, 44_100, 2), 44_100)
    plain = network_score_clips(network=model, clips=[ClipInput(audio=audio)])
    referenced = network_score_clips(
        network=model, clips=[ClipInput(audio=audio, reference=(_music(4.0, 22_050, 3), 22_050))]
    )
    assert plain["prompt_alignment"][0] != referenced["prompt_alignment"][0]
    assert plain["musicality"][0] == referenced["musicality"][0]


def test_its_axes_are_configurable() -> None:
    model = RewardNetwork(network=NetworkConfig(axes=("overall", "musicality", "prompt_alignment", "lyrics_alignment")))
    assert "lyrics_alignment" in model.heads


def test_it_refuses_to_score_without_the_analysis_figures_it_was_built_with() -> None:
    model = _model()
    condition = model.conditioning(
        prompts=text_batch(texts=[None], config=model.text),
        lyrics=text_batch(texts=[None], config=model.text),
        reference_embedding=None,
        reference_present=torch.zeros(1, dtype=torch.bool),
    )
    mels = torch.randn(1, 1, model.front_end.n_mels, model.front_end.crop_frames)
    with pytest.raises(ValueError, match=f"analysis figures of shape \\(1, {ANALYSIS_DIM}\\)"):
        model(mels, condition)


def test_a_config_from_before_the_analysis_figures_builds_the_network_without_them() -> None:
    values = RewardNetwork().hyperparameters()
    del values["network"]["analysis"]
    older = RewardNetwork.from_hyperparameters(values)
    assert older.config.analysis is False
    assert older.heads["overall"][0].in_features == RewardNetwork().heads["overall"][0].in_features - 7
    assert not older.artefact_weights


def test_a_config_from_before_the_low_frequency_figures_penalises_the_artefacts_alone() -> None:
    values = RewardNetwork().hyperparameters()
    assert values["network"]["low_frequency"] is True
    del values["network"]["low_frequency"]
    older = RewardNetwork.from_hyperparameters(values)
    assert older.config.low_frequency is False
    assert older.artefact_mean.shape == (ARTEFACT_DIM,)
    assert all(weights.shape == (ARTEFACT_DIM,) for weights in older.artefact_weights.values())
    assert RewardNetwork().artefact_mean.shape == (ARTEFACT_DIM + LOW_DIM,)
    analysis = _analysis(2)
    older.artefact_standardise(analysis)  # reads the artefact columns only, whatever follows them
    assert torch.allclose(older.artefact_mean, analysis[:, :ARTEFACT_DIM].mean(dim=0))


def test_damage_figures_can_only_lower_musicality() -> None:
    model = _model()
    with torch.no_grad():
        for weights in model.artefact_weights.values():
            weights.normal_()  # whatever training makes of the weights
    audio = torch.randn(2, 1, model.front_end.n_mels, model.front_end.crop_frames)
    audio[1] = audio[0]
    condition = model.conditioning(
        prompts=text_batch(texts=[None, None], config=model.text),
        lyrics=text_batch(texts=[None, None], config=model.text),
        reference_embedding=None,
        reference_present=torch.zeros(2, dtype=torch.bool),
    )
    analysis = _analysis(1).repeat(2, 1)
    direction = model.artefact_direction
    penalised = [*range(ARTEFACT_DIM), *range(LOW_START, LOW_START + LOW_DIM)]  # artefacts, then low frequencies
    assert direction.numel() == len(penalised)
    analysis[1, penalised] += direction * model.artefact_scale  # one standard deviation more damage
    with torch.no_grad():
        scores = model(audio, condition, analysis)
    assert scores["musicality"][1] < scores["musicality"][0]
    assert scores["overall"][1] < scores["overall"][0]


def _conditioned(model: RewardNetwork, prompts: list[str | None]) -> Conditioning:
    return model.conditioning(
        prompts=text_batch(texts=prompts, config=model.text),
        lyrics=text_batch(texts=[None] * len(prompts), config=model.text),
        reference_embedding=None,
        reference_present=torch.zeros(len(prompts), dtype=torch.bool),
    )


def test_a_composed_overall_is_musicality_plus_what_the_prompt_adds_to_alignment() -> None:
    model = _model()
    head = _model()
    model.overall_compose()
    assert model.config.overall_composed and "overall" not in model.heads
    assert "overall" not in model.artefact_weights and "musicality" in model.artefact_weights
    assert tuple(model.axes) == AXES and model.overall_blend_factors() == pytest.approx((1.0, 1.0), abs=1e-4)
    with torch.no_grad():
        model.overall_blend.copy_(torch.tensor([0.3, -0.4]))
    first, second = model.overall_blend_factors()
    mels = torch.randn(2, 1, model.front_end.n_mels, model.front_end.crop_frames)
    analysis = _analysis(2)
    with torch.no_grad():
        prompted = model(mels, _conditioned(model, ["calm piano at 80 BPM in C major", None]), analysis)
        bare = model(mels, _conditioned(model, [None, None]), analysis)
        assert torch.allclose(prompted["musicality"], bare["musicality"])
        expected = first * prompted["musicality"] + second * (prompted["prompt_alignment"]
                                                            - bare["prompt_alignment"])
        assert torch.allclose(prompted["overall"], expected, atol=1e-5)
        # A clip without a prompt, lyrics or reference scores its musicality on overall, so the quality ranking of
        # unprompted audio (the real-recording test) is musicality's.
        assert torch.allclose(bare["overall"], first * bare["musicality"], atol=1e-6)
        # Everything else is the network it was: the other axes score as before.
        assert torch.allclose(head(mels, _conditioned(head, [None, None]), analysis)["musicality"],
                              bare["musicality"])


def test_overall_votes_reach_the_blend_and_alignment_but_not_the_musicality_head() -> None:
    model = _model()
    model.overall_compose()
    mels = torch.randn(2, 1, model.front_end.n_mels, model.front_end.crop_frames)
    scores = model(mels, _conditioned(model, ["calm piano", "loud drums"]), _analysis(2))
    (scores["overall"][0] - scores["overall"][1]).backward()
    musicality = list(model.heads["musicality"].parameters())
    assert all(parameter.grad is None or not parameter.grad.any() for parameter in musicality)
    assert model.overall_blend.grad is not None and model.overall_blend.grad.abs().sum() > 0
    assert any(parameter.grad is not None and parameter.grad.any()
               for parameter in model.heads["prompt_alignment"].parameters())


def test_a_composed_network_survives_its_checkpoint_and_older_configs_keep_their_head(tmp_path: Path) -> None:
    model = _model()
    model.overall_compose()
    with torch.no_grad():
        model.overall_blend.copy_(torch.tensor([0.2, 1.5]))
    checkpoint_save(model=model, directory=tmp_path, version="composed")
    loaded, _ = checkpoint_load(path=tmp_path)
    assert loaded.config.overall_composed and "overall" not in loaded.heads
    assert loaded.overall_blend_factors() == pytest.approx(model.overall_blend_factors())
    values = RewardNetwork().hyperparameters()
    del values["network"]["overall_composed"]
    older = RewardNetwork.from_hyperparameters(values)
    assert not older.config.overall_composed and "overall" in older.heads and older.overall_blend is None
    with pytest.raises(ValueError, match="has a head of its own"):
        older.overall_blend_factors()
    with pytest.raises(ValueError, match="needs the axes"):
        RewardNetwork(network=NetworkConfig(axes=("overall", "musicality"), overall_composed=True))
