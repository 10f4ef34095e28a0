"""`manage.py seed_demo` and demo.services: the catalogue goes through ingest; votes follow the known ranking."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import BaseCommand

from arena.models import Battle, Clip, Prompt, Rater, System, Vote
from core.errors import InvalidInput
from demo import services as demo
from demo import synth
from demo.management.commands.seed_demo import Command

SR = 16000


def _win_shares(votes: list[Vote], column: str) -> dict[str, float]:
    """Share of points each system took in the votes it appeared in: a win 1, a tie 1/2, a loss or both-bad 0."""
    slugs = dict(System.objects.values_list("id", "slug"))
    points: Counter[str] = Counter()
    played: Counter[str] = Counter()
    for vote in votes:
        answer = getattr(vote, column)
        if not answer:
            continue
        a, b = slugs[vote.system_a_id], slugs[vote.system_b_id]
        played[a] += 1
        played[b] += 1
        points[a] += {"a": 1.0, "tie": 0.5}.get(answer, 0.0)
        points[b] += {"b": 1.0, "tie": 0.5}.get(answer, 0.0)
    return {slug: points[slug] / played[slug] for slug in played}


def _spearman(order: list[str], expected: tuple[str, ...]) -> float:
    ranks = np.array([order.index(slug) for slug in expected], dtype=float)
    d = ranks - np.arange(len(expected))
    n = len(expected)
    return 1.0 - 6.0 * float(np.sum(d**2)) / (n * (n * n - 1))


@pytest.mark.django_db
def test_it_imports_one_clip_per_system_and_prompt_and_is_idempotent_and_deterministic() -> None:
    summary = demo.demo_catalogue_seed(seed=3, systems=6, prompts=2, duration_s=2.0, sample_rate=SR)
    assert summary == demo.CatalogueSummary(systems_created=6, prompts_created=2, clips_imported=12, clips_skipped=0)
    assert list(System.objects.order_by("id").values_list("slug", flat=True)) == [p.slug for p in synth.DEMO_SYSTEMS]
    specs = demo.demo_prompt_specs(seed=3, count=2, duration_s=2.0)
    prompts = list(Prompt.objects.order_by("id"))
    assert [p.text for p in prompts] == [synth.spec_prompt_text(spec) for spec in specs]
    assert all(p.source == demo.demo_source(3) and "demo" in p.tags for p in prompts)
    clips = list(Clip.objects.all())
    assert len(clips) == 12 and len({(c.system_id, c.prompt_id) for c in clips}) == 12
    for clip in clips:
        # Through the real ingest: decoded, measured, normalised into a delivery copy under an opaque name.
        assert clip.duration_s == pytest.approx(2.0, abs=0.01)
        assert clip.sample_rate == SR and clip.channels == 2
        assert clip.delivery.storage.exists(clip.delivery.name)
        assert not any(p.slug in clip.delivery.name for p in synth.DEMO_SYSTEMS)
        assert clip.delivery_frame_bytes == 576  # the delivery layout: 48 kHz stereo MP3 at a constant 192 kbit/s
        assert np.isfinite(clip.loudness_lufs)
    hashes = {(c.system_id, c.prompt_id): c.sha256 for c in clips}

    again = demo.demo_catalogue_seed(seed=3, systems=6, prompts=2, duration_s=2.0, sample_rate=SR)
    assert again == demo.CatalogueSummary(systems_created=0, prompts_created=0, clips_imported=0, clips_skipped=12)
    assert Clip.objects.count() == 12 and Prompt.objects.count() == 2 and System.objects.count() == 6

    Clip.objects.all().delete()
    demo.demo_catalogue_seed(seed=3, systems=6, prompts=2, duration_s=2.0, sample_rate=SR)
    assert {(c.system_id, c.prompt_id): c.sha256 for c in Clip.objects.all()} == hashes


def test_prompt_specs_are_distinct_and_a_longer_list_extends_a_shorter_one() -> None:
    short = demo.demo_prompt_specs(seed=1, count=5)
    long = demo.demo_prompt_specs(seed=1, count=40)
    assert long[:5] == short
    assert len({synth.spec_prompt_text(spec) for spec in long}) == 40
    assert all(8.0 <= spec.duration_s <= 12.0 for spec in long)
    assert demo.demo_prompt_specs(seed=2, count=5) != short


@pytest.mark.django_db
def test_simulated_votes_recover_the_expected_ranking_with_plausible_telemetry(settings: object) -> None:
    demo.demo_catalogue_seed(seed=0, systems=6, prompts=1, duration_s=2.0, sample_rate=SR)
    summary = demo.demo_votes_simulate(seed=0, votes=3000, raters=30)
    assert summary == demo.VoteSummary(raters=30, votes_created=3000, votes_total=3000)
    votes = list(Vote.objects.select_related("battle"))
    assert len(votes) == 3000 == Battle.objects.filter(status=Battle.Status.VOTED).count()

    overall = _win_shares(votes, "choice")
    order = sorted(overall, key=lambda slug: -overall[slug])
    assert order[0] == synth.EXPECTED_RANKING[0] and order[-1] == synth.EXPECTED_RANKING[-1]
    assert _spearman(order, synth.EXPECTED_RANKING) >= 0.94
    # The unfaithful system sounds clean but loses on prompt alignment.
    musicality = _win_shares(votes, "musicality")
    alignment = _win_shares(votes, "prompt_alignment")
    assert musicality["wanderer"] > musicality["muffle"] > musicality["crunchbox"]
    assert min(alignment, key=alignment.__getitem__) == "wanderer"

    choices = Counter(vote.choice for vote in votes)
    assert set(choices) == {"a", "b", "tie", "both_bad"}
    assert 0.02 < choices["tie"] / len(votes) < 0.15
    assert 0.005 < choices["both_bad"] / len(votes) < 0.1
    sides = Counter((vote.system_a_id < vote.system_b_id) for vote in votes)
    assert min(sides.values()) > 0.4 * len(votes)

    min_listen = int(settings.EARSHOT_MIN_LISTEN_SECONDS * 1000)  # type: ignore[attr-defined]
    for vote in votes[:200]:
        battle = vote.battle
        assert vote.system_a_id == battle.clip_a.system_id and vote.system_b_id == battle.clip_b.system_id
        assert vote.prompt_id == battle.prompt_id == battle.clip_a.prompt_id == battle.clip_b.prompt_id
        assert vote.ms_played_a == battle.ms_played_a >= min(min_listen, 2000)
        assert vote.decision_ms >= vote.ms_played_a + vote.ms_played_b
        assert vote.client_hints["simulated"] is True
        assert battle.created_at < battle.expires_at
    created = [vote.created_at for vote in Vote.objects.order_by("id")]
    assert created == sorted(created) and created[0] < created[-1]
    assert Rater.objects.count() == 30


@pytest.mark.django_db
def test_simulating_votes_again_adds_only_the_missing_ones() -> None:
    demo.demo_catalogue_seed(seed=4, systems=3, prompts=1, duration_s=2.0, sample_rate=SR)
    first = demo.demo_votes_simulate(seed=4, votes=50, raters=5)
    snapshot = list(Vote.objects.order_by("id").values_list("system_a_id", "system_b_id", "choice"))
    assert demo.demo_votes_simulate(seed=4, votes=50, raters=5).votes_created == 0
    more = demo.demo_votes_simulate(seed=4, votes=80, raters=5)
    assert (first.votes_created, more.votes_created, more.votes_total) == (50, 30, 80)
    assert Vote.objects.count() == 80 and Rater.objects.count() == 5
    # The first 50 votes of an 80-vote run are the 50 votes of the 50-vote run.
    Vote.objects.all().delete()
    Battle.objects.all().delete()
    demo.demo_votes_simulate(seed=4, votes=80, raters=5)
    assert list(Vote.objects.order_by("id").values_list("system_a_id", "system_b_id", "choice"))[:50] == snapshot


@pytest.mark.django_db
def test_simulated_votes_request_one_recompute_per_changed_leaderboard(
    django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.demo_catalogue_seed(seed=5, systems=2, prompts=1, duration_s=2.0, sample_rate=SR)
    requested: list[list[str]] = []
    monkeypatch.setattr(demo, "leaderboards_request_recompute", lambda *, scopes: requested.append(scopes))
    with django_capture_on_commit_callbacks(execute=False):
        demo.demo_votes_simulate(seed=5, votes=40, raters=4)
    assert requested == [["arena", "arena:bank", "arena:instrumental", "arena:musicality", "arena:prompt_alignment"]]


@pytest.mark.django_db
def test_it_refuses_to_simulate_votes_without_a_catalogue() -> None:
    with pytest.raises(InvalidInput, match="no demo catalogue"):
        demo.demo_votes_simulate(seed=9, votes=10, raters=2)


@pytest.mark.django_db
def test_the_command_seeds_votes_and_prints_a_summary_with_the_ranking() -> None:
    out = StringIO()
    args = ["--systems", "2", "--prompts", "1", "--duration", "2", "--sample-rate", str(SR)]
    call_command("seed_demo", *args, "--votes", "20", "--raters", "3", "--no-progress", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "clips imported 2, skipped 0" in text
    assert "votes: 20 simulated now, 20 in total from 3 raters" in text
    assert "expected ranking: 1. aurora; 2. brightline" in text
    assert Clip.objects.count() == 2 and Vote.objects.count() == 20


@pytest.mark.django_db
def test_the_command_can_leave_the_reward_model_alone() -> None:
    from reward.models import RewardModelVersion

    out = StringIO()
    args = ["--systems", "2", "--prompts", "1", "--duration", "2", "--sample-rate", str(SR), "--votes", "0"]
    call_command("seed_demo", *args, "--no-reward-model", "--no-progress", stdout=out, stderr=StringIO())
    assert "reward model" not in out.getvalue()
    assert not RewardModelVersion.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_an_impossible_number_of_systems() -> None:
    with pytest.raises(CommandError, match="between 2 and"):
        call_command("seed_demo", "--systems", "1", "--no-progress", stdout=StringIO(), stderr=StringIO())
    assert not Clip.objects.exists()


def test_the_help_states_the_expected_ranking() -> None:
    command: BaseCommand = Command()
    help_text = " ".join(command.create_parser("manage.py", "seed_demo").format_help().split())
    assert "1. aurora; 2. brightline; 3. muffle; 4. wowflutter; 5. wanderer; 6. crunchbox" in help_text
    assert [p.slug for p in synth.DEMO_SYSTEMS] == list(synth.EXPECTED_RANKING)
