"""The demo catalogue: synthesised systems, prompts and clips imported like real ones, and votes from simulated raters.

Everything is deterministic by seed and idempotent: running it again adds only what is missing.
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from arena.ingest import clip_import
from arena.models import Battle, Choice, Clip, Prompt, Rater, System, Vote
from core.errors import InvalidInput
from demo import synth
from scoring.scopes import vote_scopes
from scoring.services import leaderboards_request_recompute

DEMO_SOURCE_PREFIX = "earshot-demo"
DEMO_GENERATOR = "demo.generator.DemoSynthGenerator"
# Stream tags for SeedSequence, so prompts, clips and votes draw from independent random streams.
_PROMPT_STREAM, _CLIP_STREAM, _VOTE_STREAM = 1, 2, 3
# The demo's size by default: `seed_demo` and the bundled reward model's build both use it.
DEMO_PROMPTS, DEMO_VOTES, DEMO_RATERS, DEMO_SAMPLE_RATE = 30, 1500, 60, 44100


@dataclass(frozen=True)
class CatalogueSummary:
    systems_created: int
    prompts_created: int
    clips_imported: int
    clips_skipped: int


@dataclass(frozen=True)
class VoteSummary:
    raters: int
    votes_created: int
    votes_total: int


def demo_source(seed: int) -> str:
    """Prompt.source of the demo prompts of one seed; it keeps catalogues of different seeds apart."""
    return f"{DEMO_SOURCE_PREFIX}:seed={seed}"


def demo_prompt_specs(*, seed: int, count: int, duration_s: float | None = None) -> list[synth.MusicSpec]:
    """The first `count` prompt specs of a seed, with distinct prompt texts; a longer list extends a shorter one."""
    specs: list[synth.MusicSpec] = []
    texts: set[str] = set()
    for index in range(count):
        rng = np.random.default_rng([seed, _PROMPT_STREAM, index])
        spec = synth.random_spec(rng, duration_s=duration_s)
        while synth.spec_prompt_text(spec) in texts:
            spec = synth.random_spec(rng, duration_s=duration_s)
        texts.add(synth.spec_prompt_text(spec))
        specs.append(spec)
    return specs


def demo_clip_seed(*, seed: int, system_index: int, prompt_index: int) -> int:
    return int(np.random.SeedSequence([seed, _CLIP_STREAM, system_index, prompt_index]).generate_state(1)[0])


def _demo_profiles(count: int) -> tuple[synth.SystemProfile, ...]:
    if not 2 <= count <= len(synth.DEMO_SYSTEMS):
        raise InvalidInput(f"the demo has between 2 and {len(synth.DEMO_SYSTEMS)} systems, not {count}")
    return synth.DEMO_SYSTEMS[:count]


def _prompt_tags(spec: synth.MusicSpec) -> list[str]:
    tags = ["demo", spec.mood, spec.instrument, f"{spec.key_name} {spec.mode}", f"{spec.tempo_bpm} bpm"]
    if spec.with_drums:
        tags.append("drums")
    return tags


def demo_catalogue_seed(
    *,
    seed: int = 0,
    systems: int = len(synth.DEMO_SYSTEMS),
    prompts: int = DEMO_PROMPTS,
    duration_s: float | None = None,
    sample_rate: int = DEMO_SAMPLE_RATE,
    progress: Callable[[], None] | None = None,
) -> CatalogueSummary:
    """Register the demo systems, create the prompts and import one synthesised clip per system and prompt.

    Each clip is written as a WAV and goes through the same ingest as a real upload (loudness measurement and
    normalisation, hashing, delivery copy). Clips already there for a system and prompt are skipped unrendered.
    """
    if prompts < 1:
        raise InvalidInput(f"the demo needs at least one prompt, not {prompts}")
    profiles = _demo_profiles(systems)
    systems_created = prompts_created = imported = skipped = 0
    system_rows: list[System] = []
    for profile in profiles:
        row, created = System.objects.update_or_create(
            slug=profile.slug,
            defaults={"name": profile.name, "organisation": profile.organisation, "description": profile.description,
                      # Each demo system also generates live (in-process), so listeners can write their own prompts.
                      "generator": DEMO_GENERATOR, "generator_config": {"options": {"profile": profile.slug}}},
        )
        system_rows.append(row)
        systems_created += int(created)
    source = demo_source(seed)
    with tempfile.TemporaryDirectory(prefix="earshot-demo-") as folder:
        for prompt_index, spec in enumerate(demo_prompt_specs(seed=seed, count=prompts, duration_s=duration_s)):
            prompt, created = Prompt.objects.get_or_create(
                text=synth.spec_prompt_text(spec),
                source=source,
                defaults={"tags": _prompt_tags(spec), "language": "en"},
            )
            prompts_created += int(created)
            present = set(Clip.objects.filter(prompt=prompt).values_list("system_id", flat=True))
            for system_index, (profile, system) in enumerate(zip(profiles, system_rows, strict=True)):
                if system.pk in present:
                    skipped += 1
                else:
                    audio = synth.render_system_clip(
                        profile,
                        spec,
                        sample_rate=sample_rate,
                        seed=demo_clip_seed(seed=seed, system_index=system_index, prompt_index=prompt_index),
                    )
                    path = Path(folder) / f"{profile.slug}-{prompt_index:03d}.wav"
                    sf.write(str(path), audio, sample_rate, subtype="PCM_16")
                    clip_import(
                        system=system,
                        prompt=prompt,
                        path=path,
                        original_name=f"demo/{profile.slug}/prompt-{prompt_index:03d}.wav",
                    )
                    path.unlink()
                    imported += 1
                if progress is not None:
                    progress()
    return CatalogueSummary(systems_created, prompts_created, imported, skipped)


# --------------------------------------------------------------------------------------------------------------------
# Simulated votes.


@dataclass(frozen=True)
class _RaterTraits:
    skill: float  # scales strength differences: 0 guesses, 1 as the model says
    side_bias: float  # log-odds added in favour of side A
    tie_rate: float
    both_bad_rate: float
    axis_rate: float  # how often this rater also answers the per-axis questions


def _rater_traits(
    rng: np.random.Generator, count: int, tie_probability: float, both_bad_probability: float
) -> list[_RaterTraits]:
    traits = []
    for _ in range(count):
        # A few careless raters (skill near 0) among mostly attentive ones, as on any crowd platform.
        careless = rng.random() < 0.12
        traits.append(
            _RaterTraits(
                skill=float(rng.uniform(0.0, 0.3) if careless else rng.lognormal(0.0, 0.25)),
                side_bias=float(rng.normal(0.0, 0.15)),
                tie_rate=float(np.clip(rng.beta(2.0, 2.0) * 2.0 * tie_probability, 0.0, 0.9)),
                both_bad_rate=float(np.clip(rng.beta(2.0, 2.0) * 2.0 * both_bad_probability, 0.0, 0.9)),
                axis_rate=float(rng.uniform(0.3, 0.9)),
            )
        )
    return traits


def _prompt_alignment_strength(profile: synth.SystemProfile) -> float:
    # Log-odds of following a prompt, centred near the faithful systems: fidelity 0.35 is far behind 0.95.
    return 4.0 * (profile.prompt_fidelity - 0.85)


def demo_axis_strengths() -> dict[str, dict[str, float]]:
    """Per axis, each demo system's Bradley–Terry log-strength in the vote simulation (the true preference model)."""
    return {
        "overall": {profile.slug: profile.true_strength for profile in synth.DEMO_SYSTEMS},
        "musicality": {profile.slug: profile.musicality_strength for profile in synth.DEMO_SYSTEMS},
        "prompt_alignment": {profile.slug: _prompt_alignment_strength(profile) for profile in synth.DEMO_SYSTEMS},
    }


def _preference(
    rng: np.random.Generator, traits: _RaterTraits, strength_a: float, strength_b: float, *, allow_both_bad: bool
) -> str:
    """One rater's answer under Bradley-Terry on the two strengths, with that rater's noise, ties and both-bad."""
    difference = strength_a - strength_b
    # Ties are likelier between clips of similar quality; "both bad" when both are weak.
    if rng.random() < traits.tie_rate * math.exp(-abs(difference)):
        return Choice.TIE
    if allow_both_bad:
        weakness = 1.0 / (1.0 + math.exp(2.0 * (strength_a + strength_b) + 1.0))
        if rng.random() < traits.both_bad_rate * 2.0 * weakness:
            return Choice.BOTH_BAD
    p_a = 1.0 / (1.0 + math.exp(-(traits.skill * difference + traits.side_bias)))
    return Choice.A if rng.random() < p_a else Choice.B


def _demo_rater_prefix(seed: int) -> str:
    return f"demo-seed{seed}-rater"


def demo_votes_simulate(
    *,
    seed: int = 0,
    votes: int = DEMO_VOTES,
    raters: int = DEMO_RATERS,
    tie_probability: float = 0.08,
    both_bad_probability: float = 0.06,
    progress: Callable[[int], None] | None = None,
) -> VoteSummary:
    """Simulate `votes` arena votes on the demo catalogue of `seed` from `raters` noisy raters.

    Preferences follow Bradley-Terry on each system's true_strength (per axis: musicality_strength and prompt
    fidelity), with per-rater skill, side bias, tie and both-bad rates. Battles carry plausible listening
    telemetry. Deterministic by seed; votes already simulated for this seed are kept, only the missing ones added.
    """
    if votes < 0 or raters < 1:
        raise InvalidInput("votes must be >= 0 and raters >= 1")
    profiles = {profile.slug: profile for profile in synth.DEMO_SYSTEMS}
    by_prompt = _demo_clips_by_prompt(seed=seed, slugs=list(profiles))
    prompt_ids = sorted(pid for pid, group in by_prompt.items() if len(group) >= 2)
    if not prompt_ids:
        raise InvalidInput(f"no demo catalogue for seed {seed}: run demo_catalogue_seed first")

    prefix = _demo_rater_prefix(seed)
    rater_rows = [Rater.objects.get_or_create(external_id=f"{prefix}{index:03d}")[0] for index in range(raters)]
    existing = Vote.objects.filter(rater__external_id__startswith=prefix).count()
    rng = np.random.default_rng([seed, _VOTE_STREAM, raters])
    traits = _rater_traits(rng, raters, tie_probability, both_bad_probability)
    min_listen_ms = int(settings.EARSHOT_MIN_LISTEN_SECONDS * 1000)
    now = timezone.now()

    pending: list[tuple[Battle, Vote, datetime]] = []
    # The whole sequence is drawn every time so that vote k is the same vote on every run; only new ones are saved.
    for index in range(votes):
        rater_index = int(rng.integers(raters))
        group = by_prompt[prompt_ids[int(rng.integers(len(prompt_ids)))]]
        answer = _answer_draw(rng=rng, traits=traits[rater_index], group=group, profiles=profiles,
                              min_listen_ms=min_listen_ms)
        if index < existing:
            continue
        created = now - timedelta(seconds=(votes - index) * 37)
        battle, vote = _vote_rows(answer=answer, rater=rater_rows[rater_index], traits=traits[rater_index],
                                  created=created, seed=seed)
        pending.append((battle, vote, created))
    _simulated_votes_save(pending=pending)
    if progress is not None:
        progress(len(pending))
    return VoteSummary(raters=raters, votes_created=len(pending), votes_total=existing + len(pending))


def _demo_clips_by_prompt(*, seed: int, slugs: list[str]) -> dict[int, list[Clip]]:
    """The active demo clips of a seed, by prompt, in a fixed order (so the same draws pick the same clips)."""
    clips = (
        Clip.objects.filter(prompt__source=demo_source(seed), system__slug__in=slugs, active=True)
        .select_related("system", "prompt")
        .order_by("prompt_id", "system__slug", "id")
    )
    by_prompt: dict[int, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_prompt[clip.prompt_id].append(clip)
    return by_prompt


@dataclass(frozen=True)
class _Answer:
    """One simulated rater's battle: the two clips as shown, the answers and how they listened."""

    clip_a: Clip
    clip_b: Clip
    choice: str
    musicality: str  # "" when the rater skipped the per-axis questions
    prompt_alignment: str
    listening: _Listening


def _answer_draw(
    *, rng: np.random.Generator, traits: _RaterTraits, group: list[Clip], profiles: dict[str, synth.SystemProfile],
    min_listen_ms: int,
) -> _Answer:
    first, second = rng.choice(len(group), size=2, replace=False)
    clip_a, clip_b = group[int(first)], group[int(second)]
    a, b = profiles[clip_a.system.slug], profiles[clip_b.system.slug]
    choice = _preference(rng, traits, a.true_strength, b.true_strength, allow_both_bad=True)
    answers_axes = rng.random() < traits.axis_rate
    musicality = _preference(rng, traits, a.musicality_strength, b.musicality_strength, allow_both_bad=True)
    alignment = _preference(
        rng, traits, _prompt_alignment_strength(a), _prompt_alignment_strength(b), allow_both_bad=False
    )
    listening = _telemetry(rng, clip_a.duration_s, clip_b.duration_s, min_listen_ms)
    return _Answer(clip_a=clip_a, clip_b=clip_b, choice=choice, musicality=musicality if answers_axes else "",
                   prompt_alignment=alignment if answers_axes else "", listening=listening)


def _vote_rows(
    *, answer: _Answer, rater: Rater, traits: _RaterTraits, created: datetime, seed: int
) -> tuple[Battle, Vote]:
    """The voted battle and its vote, unsaved, as the arena would have recorded them at `created`."""
    clip_a, clip_b, listening = answer.clip_a, answer.clip_b, answer.listening
    battle = Battle(
        rater=rater,
        prompt=clip_a.prompt,
        clip_a=clip_a,
        clip_b=clip_b,
        mode=Battle.Mode.ARENA,
        status=Battle.Status.VOTED,
        expires_at=created + timedelta(seconds=settings.EARSHOT_BATTLE_TTL_SECONDS),
        ms_played_a=listening.ms_played_a,
        ms_played_b=listening.ms_played_b,
        seeks=listening.seeks,
        switches=listening.switches,
    )
    vote = Vote(
        battle=battle,
        rater=rater,
        system_a_id=clip_a.system_id,
        system_b_id=clip_b.system_id,
        prompt=clip_a.prompt,
        choice=answer.choice,
        musicality=answer.musicality,
        prompt_alignment=answer.prompt_alignment,
        ms_played_a=listening.ms_played_a,
        ms_played_b=listening.ms_played_b,
        seeks=listening.seeks,
        switches=listening.switches,
        decision_ms=listening.decision_ms,
        client_hints={"simulated": True, "demo_seed": seed, "rater_skill": round(traits.skill, 3)},
    )
    return battle, vote


def _simulated_votes_save(*, pending: list[tuple[Battle, Vote, datetime]]) -> None:
    """Save the battles and votes in one transaction, each dated when it was simulated; the leaderboards they
    change are recomputed once it commits, as for a real vote."""
    with transaction.atomic():
        new_battles = Battle.objects.bulk_create([battle for battle, _, _ in pending], batch_size=500)
        for battle, (_, vote, _) in zip(new_battles, pending, strict=True):
            vote.battle = battle
        new_votes = Vote.objects.bulk_create([vote for _, vote, _ in pending], batch_size=500)
        # auto_now_add stamps every row "now"; spread them back over the simulated history (online Elo, charts).
        history = [created for _, _, created in pending]
        for battle, vote, created in zip(new_battles, new_votes, history, strict=True):
            battle.created_at = vote.created_at = created
        Battle.objects.bulk_update(new_battles, ["created_at"], batch_size=500)
        Vote.objects.bulk_update(new_votes, ["created_at"], batch_size=500)
        leaderboards_request_recompute(scopes=sorted({name for vote in new_votes for name in vote_scopes(vote)}))


@dataclass(frozen=True)
class _Listening:
    ms_played_a: int
    ms_played_b: int
    seeks: int
    switches: int
    decision_ms: int


def _telemetry(rng: np.random.Generator, duration_a: float, duration_b: float, min_listen_ms: int) -> _Listening:
    """Listening as people do it: most of each clip, sometimes twice, a few seeks and switches, then a decision."""

    def played(duration_s: float) -> int:
        full_ms = int(duration_s * 1000)
        share = rng.uniform(0.55, 1.0) if rng.random() < 0.7 else rng.uniform(1.0, 2.2)
        return max(int(full_ms * share), min(min_listen_ms, full_ms), 1)

    ms_a, ms_b = played(duration_a), played(duration_b)
    return _Listening(
        ms_played_a=ms_a,
        ms_played_b=ms_b,
        seeks=int(rng.poisson(1.2)),
        switches=1 + int(rng.poisson(1.5)),
        decision_ms=ms_a + ms_b + int(rng.gamma(2.0, 3000.0)),
    )
