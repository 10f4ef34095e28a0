"""The agreement report and /agreement/: figures computed from real votes and stored scores, rendered and plotted."""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.test import Client
from scipy import stats

from arena.models import Clip, Rater, System, Vote
from reward.agreement import agreement_recompute
from reward.models import AgreementReport, ClipScore, RewardModelVersion
from scoring.selectors import system_ratings
from scoring.services import leaderboard_recompute_run
from tests.browser import asgi_live_server, collect_page_errors, needs_postgres, run_in_browser, screenshot  # noqa: F401
from tests.factories import ClipFactory, PromptFactory, RaterFactory, SystemFactory
from tests.reward.reward_support import vote_cast

QUALITY = [0.0, 0.6, 1.2, 1.8, 2.4]


@dataclass
class Arena:
    version: RewardModelVersion
    systems: list[System]
    clips: list[Clip]
    raters: list[Rater]


def arena_with_votes(*, seed: int = 3, prompts: int = 6, rounds: int = 3) -> Arena:
    """Four systems of rising quality, one clip each per prompt, scored by a model that knows the quality up to
    noise, and votes drawn from a Bradley-Terry model of the same quality: each clip pair is voted by several
    raters (the human ceiling needs repeats), with the suggestion recorded always and shown for half of them."""
    rng = random.Random(seed)
    version = RewardModelVersion.objects.create(
        name="stored-scores", class_path="reward.ml.interface.BundledRewardModel", path="/nowhere",
        sha256="0" * 64, active=True,
    )
    systems = [SystemFactory() for _ in QUALITY]
    raters = [RaterFactory() for _ in range(rounds)]
    clips = []
    for _ in range(prompts):
        prompt = PromptFactory()
        for system, quality in zip(systems, QUALITY, strict=True):
            clip = ClipFactory(system=system, prompt=prompt)
            clips.append(clip)
            for axis in ("overall", "musicality", "prompt_alignment"):
                ClipScore.objects.create(version=version, clip=clip, axis=axis, score=quality + rng.gauss(0, 0.5))
    by_prompt: dict[int, list[Clip]] = {}
    for clip in clips:
        by_prompt.setdefault(clip.prompt_id, []).append(clip)
    scores = {(s.clip_id, s.axis): s.score for s in ClipScore.objects.all()}
    for prompt_clips in by_prompt.values():
        for i in range(len(prompt_clips)):
            for j in range(i + 1, len(prompt_clips)):
                for k, rater in enumerate(raters):
                    a, b = prompt_clips[i], prompt_clips[j]
                    if rng.random() < 0.5:
                        a, b = b, a
                    qa, qb = QUALITY[systems.index(a.system)], QUALITY[systems.index(b.system)]
                    p_a = 1 / (1 + math.exp(-(qa - qb)))
                    draw = rng.random()
                    choice = "tie" if draw < 0.1 else ("a" if rng.random() < p_a else "b")
                    model_p = 1 / (1 + math.exp(-(scores[(a.pk, "overall")] - scores[(b.pk, "overall")])))
                    side = "a" if model_p >= 0.5 else "b"
                    vote_cast(
                        a, b, choice, rater=rater, musicality=choice, prompt_alignment="both_bad" if k == 2 else choice,
                        suggestion_side=side, suggestion_p=max(model_p, 1 - model_p), suggestion_shown=k % 2 == 0,
                    )
    return Arena(version=version, systems=systems, clips=clips, raters=raters)


def hand_accuracy(version: RewardModelVersion) -> tuple[float, int]:
    """Share of non-tie overall votes where the clip the model scored higher won, counted straight from the rows."""
    scores = {s.clip_id: s.score for s in ClipScore.objects.filter(version=version, axis="overall")}
    correct = total = 0
    for vote in Vote.objects.select_related("battle"):
        if vote.choice not in {"a", "b"}:
            continue
        favoured = "a" if scores[vote.battle.clip_a_id] > scores[vote.battle.clip_b_id] else "b"
        correct += favoured == vote.choice
        total += 1
    return correct / total, total


@pytest.mark.django_db
def test_the_report_matches_a_hand_count_and_carries_intervals_and_sizes_everywhere() -> None:
    arena = arena_with_votes()
    leaderboard_recompute_run(scope="arena")
    report = agreement_recompute()
    assert report is not None and report.version == arena.version
    figures = report.figures
    overall = figures["axes"]["overall"]
    accuracy = overall["model"]["accuracy"]
    expected, n = hand_accuracy(arena.version)
    assert accuracy["value"] == pytest.approx(expected)
    assert accuracy["n"] == n and accuracy["bootstrap"]["n"] == n
    assert accuracy["bootstrap"]["low"] <= expected <= accuracy["bootstrap"]["high"]
    # The model knows the systems' quality up to noise, so it beats a coin.
    assert expected > overall["baselines"]["coin_flip"]["high"]
    ratings = system_ratings(scope="arena")
    names = [system.name for system in arena.systems]
    mean_reward = [
        float(np.mean([s.score for s in ClipScore.objects.filter(version=arena.version, axis="overall",
                                                                 clip__system=system)]))
        for system in arena.systems
    ]
    tau = stats.kendalltau(mean_reward, [ratings[system.pk]["rating"] for system in arena.systems]).statistic
    assert overall["rank_correlation"]["kendall_tau"]["value"] == pytest.approx(tau)
    assert overall["rank_correlation"]["kendall_tau"]["n"] == len(names)
    assert overall["rank_correlation"]["kendall_tau"]["low"] is not None
    assert overall["baselines"]["rating_prior"] is not None
    decisive_per_pair: dict[frozenset[int], int] = {}
    for vote in Vote.objects.filter(choice__in=["a", "b"]).select_related("battle"):
        key = frozenset({vote.battle.clip_a_id, vote.battle.clip_b_id})
        decisive_per_pair[key] = decisive_per_pair.get(key, 0) + 1
    repeated = sum(1 for count in decisive_per_pair.values() if count >= 2)
    assert overall["ceiling"]["pairwise_agreement"]["n"] == repeated > 0
    assert set(overall["systems"]) == {system.name for system in arena.systems}
    assert figures["axes"]["prompt_alignment"]["model"]["n_dropped_both_bad"] == Vote.objects.filter(
        prompt_alignment="both_bad"
    ).count() == 6 * 10
    anchoring = figures["anchoring"]
    assert anchoring["n_with_suggestion"] == Vote.objects.count()
    assert anchoring["shown"]["n"] + anchoring["hidden"]["n"] == Vote.objects.filter(choice__in=["a", "b"]).count()
    bins = overall["model"]["calibration"]["bins"]
    assert sum(b["count"] for b in bins) == overall["model"]["n_decisive"]


@pytest.mark.django_db
def test_it_recomputes_only_when_votes_or_scores_changed() -> None:
    arena = arena_with_votes(prompts=2, rounds=2)
    assert agreement_recompute() is not None
    assert agreement_recompute() is None
    clip_a, clip_b = arena.clips[0], arena.clips[1]
    vote_cast(clip_a, clip_b, "a")
    again = agreement_recompute()
    assert again is not None and again.vote_count == Vote.objects.count()
    assert AgreementReport.objects.count() == 2


@pytest.mark.django_db
def test_the_page_shows_the_report_figures_with_intervals_and_sizes(client: Client) -> None:
    arena_with_votes()
    leaderboard_recompute_run(scope="arena")
    report = agreement_recompute()
    assert report is not None
    response = client.get("/agreement/")
    assert response.status_code == 200
    html = response.content.decode()
    accuracy = report.figures["axes"]["overall"]["model"]["accuracy"]["bootstrap"]
    assert f"{accuracy['value']:.3f} [{accuracy['low']:.3f}, {accuracy['high']:.3f}]" in html
    assert f"n = {accuracy['n']}" in html
    tau = report.figures["axes"]["overall"]["rank_correlation"]["kendall_tau"]
    assert f"{tau['value']:.3f} [{tau['low']:.3f}, {tau['high']:.3f}]" in html
    assert 'id="agreement-figures"' in html and "reward/agreement.js" in html
    embedded = html.split('<script id="agreement-figures" type="application/json">')[1].split("</script>")[0]
    assert json.loads(embedded)["last_vote_id"] == report.figures["last_vote_id"]


def _damage_table() -> dict[str, Any]:
    """A real-recording table as `build_reward_model` stores it (reward/ml/realtest.py's damage_table)."""
    return {
        "excerpts": 36, "excerpt_seconds": 6.0, "tracks": ["asc-music/a.mp3", "drascula-music/b.ogg"],
        "packages": ["asc-music", "drascula-music"],
        "rows": [
            {"family": "low-pass", "implementation": "FFT brick-wall, 3% transition", "parameter": "3 kHz",
             "target": 0.95, "pairs": 36, "overall": 0.2311, "musicality": 0.5944},
            {"family": "noise", "implementation": "mains hum", "parameter": "50 Hz, 10 dB SNR", "target": 0.95,
             "pairs": 36, "overall": 0.9722, "musicality": 1.0},
        ],
        "implementations": [
            {"family": "low-pass", "implementation": "FFT brick-wall, 3% transition", "target": 0.95, "pairs": 36,
             "overall": 0.2311, "musicality": 0.5944},
            {"family": "noise", "implementation": "mains hum", "target": 0.95, "pairs": 36, "overall": 0.9722,
             "musicality": 1.0},
        ],
        "families": [
            {"family": "low-pass", "target": 0.95, "pairs": 36, "overall": 0.2311, "musicality": 0.5944},
            {"family": "noise", "target": 0.95, "pairs": 36, "overall": 0.9722, "musicality": 1.0},
        ],
        "targets_missed": ["low-pass: overall 0.231 < 0.95"],
    }


@pytest.mark.django_db
def test_the_page_shows_the_checkpoints_real_recording_damage_table_beside_the_votes(
    client: Client, tmp_path: Any
) -> None:
    arena = arena_with_votes(prompts=2, rounds=1)
    (tmp_path / "config.json").write_text(json.dumps({"metrics": {"real_recordings": _damage_table()}}))
    RewardModelVersion.objects.filter(pk=arena.version.pk).update(path=str(tmp_path))
    leaderboard_recompute_run(scope="arena")
    assert agreement_recompute() is not None
    html = client.get("/agreement/").content.decode()
    assert 'id="agreement-summary"' in html and 'id="damage-families"' in html
    families = html.split('id="damage-families"')[1].split("</table>")[0]
    assert 'data-family="low-pass" data-held="no"' in families and "0.231" in families and "0.594" in families
    assert 'data-family="noise" data-held="yes"' in families and "0.972" in families
    assert "FFT brick-wall, 3% transition" in families and "≥ 0.95" in families
    assert "36 excerpts of 6 s from 2 real" in html and "asc-music, drascula-music" in html
    assert "Misses its targets: low-pass: overall 0.231 &lt; 0.95" in html
    assert "50 Hz, 10 dB SNR" in html.split('id="damage-rows"')[1]


@pytest.mark.django_db
def test_the_damage_table_needs_no_report_and_is_left_out_for_a_checkpoint_without_one(
    client: Client, tmp_path: Any
) -> None:
    version = RewardModelVersion.objects.create(
        name="bundled", class_path="reward.ml.interface.BundledRewardModel", path=str(tmp_path), sha256="0" * 64,
        active=True,
    )
    (tmp_path / "config.json").write_text(json.dumps({"metrics": {"real_recordings": _damage_table()}}))
    html = client.get("/agreement/").content.decode()
    assert "No agreement report yet" in html and 'id="damage-families"' in html
    (tmp_path / "config.json").write_text(json.dumps({"metrics": {}}))
    assert 'id="damage-families"' not in client.get("/agreement/").content.decode()
    RewardModelVersion.objects.filter(pk=version.pk).update(path="/nowhere")
    assert client.get("/agreement/").status_code == 200


@pytest.mark.django_db
def test_the_page_says_so_when_there_is_no_report_yet(client: Client) -> None:
    response = client.get("/agreement/")
    assert response.status_code == 200
    assert "No agreement report yet" in response.content.decode()
    assert "agreement.js" not in response.content.decode()


@needs_postgres
@pytest.mark.browser
def test_the_charts_draw_the_report_figures_in_a_real_browser(asgi_live_server: Any) -> None:  # noqa: F811
    arena_with_votes()
    leaderboard_recompute_run(scope="arena")
    report = agreement_recompute()
    assert report is not None
    expected_accuracy = report.figures["axes"]["overall"]["model"]["accuracy"]["value"]

    def scenario(browser: Any) -> dict[str, Any]:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = collect_page_errors(page)
        page.goto(f"{asgi_live_server.url}/agreement/")
        page.wait_for_selector("#agreement[data-charts-ready='true']", timeout=20_000)
        drawn = page.evaluate(
            """() => {
              const charts = window.earshotAgreementCharts;
              return {
                labels: charts.accuracy.data.labels,
                model: charts.accuracy.data.datasets[0].data.map((p) => p.y),
                whiskers: charts.accuracy.data.datasets[0].data.map((p) => [p.yMin, p.yMax]),
                reliabilityPoints: charts.reliability.data.datasets[0].data.length,
                canvasWidth: document.getElementById('reliability-chart').width,
              };
            }"""
        )
        screenshot(page, "agreement-page")
        return {"drawn": drawn, "errors": errors}

    result = run_in_browser(scenario)
    assert result["errors"] == []
    drawn = result["drawn"]
    assert drawn["labels"] == ["Overall", "Musicality", "Prompt alignment"]
    assert drawn["model"][0] == pytest.approx(expected_accuracy)
    low, high = drawn["whiskers"][0]
    assert low < expected_accuracy < high
    assert drawn["reliabilityPoints"] > 0 and drawn["canvasWidth"] > 0
