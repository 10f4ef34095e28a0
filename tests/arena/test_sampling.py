"""Pair sampling: only active systems and clips, balance across system pairs, rotation, no immediate repeat."""
from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

import pytest

from arena.models import Battle, Choice, Clip, Rater, Vote
from arena.sampling import (
    BalancedPolicy,
    NoPairAvailable,
    PairChoice,
    SamplingPolicy,
    catalogue_load,
    pair_vote_counts,
    policy_get,
)
from arena.services import battle_create
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture
from tests.factories import ClipFactory, PromptFactory, RaterFactory, SystemFactory

pytestmark = pytest.mark.django_db


def grid(systems: int, prompts: int) -> tuple[list, list, dict]:
    """One clip row per system and prompt (sampling never reads the audio)."""
    made_systems = [SystemFactory() for _ in range(systems)]
    made_prompts = [PromptFactory() for _ in range(prompts)]
    clips = {(s.pk, p.pk): ClipFactory(system=s, prompt=p) for s in made_systems for p in made_prompts}
    return made_systems, made_prompts, clips


def system_pair(battle: Battle) -> tuple[int, int]:
    return tuple(sorted((battle.clip_a.system_id, battle.clip_b.system_id)))  # type: ignore[return-value]


def vote_on(battle: Battle) -> None:
    Vote.objects.create(
        battle=battle,
        rater=battle.rater,
        system_a_id=battle.clip_a.system_id,
        system_b_id=battle.clip_b.system_id,
        prompt=battle.prompt,
        choice=Choice.A,
    )


def test_it_keeps_votes_balanced_across_system_pairs_over_many_draws() -> None:
    systems, _, _ = grid(systems=4, prompts=2)
    raters = [RaterFactory() for _ in range(5)]
    rng = random.Random(7)
    for draw in range(360):
        battle = battle_create(rater=raters[draw % 5], rng=rng)
        vote_on(battle)
    counts = pair_vote_counts(fresh=True)
    assert set(counts) == {tuple(sorted(p)) for p in combinations([s.pk for s in systems], 2)}
    assert sum(counts.values()) == 360
    assert max(counts.values()) - min(counts.values()) <= 4


def test_it_gives_the_least_voted_pairs_the_best_odds() -> None:
    systems, prompts, clips = grid(systems=3, prompts=1)
    heavy = (systems[0].pk, systems[1].pk)
    rater = RaterFactory()
    for _ in range(20):
        battle = Battle.objects.create(
            rater=rater, prompt=prompts[0], clip_a=clips[(heavy[0], prompts[0].pk)],
            clip_b=clips[(heavy[1], prompts[0].pk)], expires_at="2100-01-01T00:00:00Z",
        )
        vote_on(battle)
    policy, rng = BalancedPolicy(), random.Random(3)
    picks = Counter()
    for _ in range(300):
        choice = policy.choose(rater=RaterFactory(), rng=rng, fresh=True)
        clip_systems = tuple(sorted(Clip.objects.get(pk=pk).system_id for pk in choice.clip_ids))
        picks[clip_systems] += 1
    assert picks[tuple(sorted(heavy))] <= 3
    assert sum(picks.values()) - picks[tuple(sorted(heavy))] >= 297


def test_it_keeps_every_active_system_in_rotation() -> None:
    systems, _, _ = grid(systems=6, prompts=1)
    rater = RaterFactory()
    rng = random.Random(11)
    seen: Counter[int] = Counter()
    for _ in range(60):
        battle = battle_create(rater=rater, rng=rng)
        vote_on(battle)
        seen.update([battle.clip_a.system_id, battle.clip_b.system_id])
    assert set(seen) == {s.pk for s in systems}
    assert min(seen.values()) >= 10  # 15 pairs, 4 each: every system in 20 battles, give or take the randomness


def test_it_never_shows_a_rater_the_same_pair_of_clips_twice_in_a_row() -> None:
    grid(systems=2, prompts=2)  # only two clip pairs exist
    rater = RaterFactory()
    rng = random.Random(5)
    previous = None
    for _ in range(40):
        battle = battle_create(rater=rater, rng=rng)
        current = frozenset((battle.clip_a_id, battle.clip_b_id))
        assert current != previous
        previous = current


def test_it_refuses_when_the_only_pair_is_the_one_the_rater_just_heard() -> None:
    grid(systems=2, prompts=1)
    rater = RaterFactory()
    battle_create(rater=rater)
    with pytest.raises(NoPairAvailable) as caught:
        battle_create(rater=rater)
    assert caught.value.status == 503
    assert "no other pair" in caught.value.message
    battle_create(rater=RaterFactory())  # another rater still gets it


def test_it_only_offers_active_systems_and_active_clips() -> None:
    systems, prompts, clips = grid(systems=4, prompts=2)
    retired_system = systems[0]
    retired_system.active = False
    retired_system.save(update_fields=["active"])
    retired_clip = clips[(systems[1].pk, prompts[0].pk)]
    retired_clip.active = False
    retired_clip.save(update_fields=["active"])
    rng = random.Random(1)
    shown: set[int] = set()
    for index in range(120):
        battle = battle_create(rater=RaterFactory(), rng=rng)
        shown.update([battle.clip_a_id, battle.clip_b_id])
        if index % 2:
            vote_on(battle)
    shown_systems = set(Clip.objects.filter(pk__in=shown).values_list("system_id", flat=True))
    assert retired_system.pk not in shown_systems
    assert retired_clip.pk not in shown
    assert shown_systems == {s.pk for s in systems[1:]}


def test_it_only_uses_prompts_with_clips_from_two_active_systems() -> None:
    a, b = SystemFactory(), SystemFactory()
    retired = SystemFactory(active=False)
    shared, lonely, half_retired = PromptFactory(), PromptFactory(), PromptFactory()
    ClipFactory(system=a, prompt=shared)
    ClipFactory(system=b, prompt=shared)
    ClipFactory(system=a, prompt=lonely)
    ClipFactory(system=a, prompt=half_retired)
    ClipFactory(system=retired, prompt=half_retired)
    catalogue = catalogue_load(fresh=True)
    assert list(catalogue.clips) == [shared.pk]
    rng = random.Random(2)
    prompts = {battle_create(rater=RaterFactory(), rng=rng).prompt_id for _ in range(20)}
    assert prompts == {shared.pk}


def test_it_says_when_no_prompt_has_clips_from_two_active_systems() -> None:
    ClipFactory()
    with pytest.raises(NoPairAvailable) as caught:
        battle_create(rater=RaterFactory())
    assert caught.value.code == "no_pair_available"
    assert "two active systems" in caught.value.message


def test_it_counts_votes_per_pair_in_one_query(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    systems, _, _ = grid(systems=3, prompts=1)
    rng = random.Random(4)
    for _ in range(9):
        vote_on(battle_create(rater=RaterFactory(), rng=rng))
    with django_assert_num_queries(1):
        counts = pair_vote_counts(fresh=True)
    assert sum(counts.values()) == 9
    assert all(low < high for low, high in counts)


def test_it_picks_from_the_cached_catalogue_until_a_retired_clip_forces_a_fresh_pick(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_SAMPLING_CACHE_SECONDS = 60
    systems, _, _ = grid(systems=3, prompts=1)
    catalogue_load()  # cached with all three systems
    pair_vote_counts()
    systems[2].active = False
    systems[2].save(update_fields=["active"])
    rng = random.Random(9)
    for _ in range(30):
        battle = battle_create(rater=RaterFactory(), rng=rng)
        assert {battle.clip_a.system_id, battle.clip_b.system_id} == {systems[0].pk, systems[1].pk}


class FirstPairPolicy(SamplingPolicy):
    """A policy of the test: always the two lowest clip ids of the first prompt."""

    def choose(self, *, rater: Rater, rng: random.Random, fresh: bool = False) -> PairChoice:
        catalogue = catalogue_load(fresh=True)
        prompt_id = min(catalogue.clips)
        ids = sorted(clip for clips in catalogue.clips[prompt_id].values() for clip in clips)[:2]
        return PairChoice(prompt_id=prompt_id, clip_ids=(ids[0], ids[1]))


def test_the_policy_is_the_class_the_setting_names(settings) -> None:  # type: ignore[no-untyped-def]
    grid(systems=3, prompts=2)
    settings.EARSHOT_SAMPLING_POLICY = "tests.arena.test_sampling.FirstPairPolicy"
    assert isinstance(policy_get(), FirstPairPolicy)
    first = sorted(Clip.objects.order_by("prompt_id", "id").values_list("id", flat=True)[:2])
    battle = battle_create(rater=RaterFactory())
    assert sorted((battle.clip_a_id, battle.clip_b_id)) == first


def test_it_refuses_a_setting_that_names_no_policy(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_SAMPLING_POLICY = "arena.models.Battle"
    with pytest.raises(TypeError, match="not a SamplingPolicy"):
        policy_get()
