"""battle_create: an open arena battle of two systems' clips for one prompt, sides shuffled, expiry from settings."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from arena.models import Battle
from arena.services import battle_create
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401 - autouse fixture
from tests.factories import ClipFactory, PromptFactory, RaterFactory, SystemFactory

pytestmark = pytest.mark.django_db


def test_it_creates_an_open_arena_battle_of_two_systems_for_one_prompt(tmp_path: Path) -> None:
    catalogue = catalogue_import(tmp_path, systems=2, prompts=1)
    rater = RaterFactory()
    battle = battle_create(rater=rater)
    battle.refresh_from_db()
    assert battle.rater == rater
    assert battle.mode == Battle.Mode.ARENA
    assert battle.status == Battle.Status.OPEN
    assert battle.prompt == catalogue.prompts[0]
    assert battle.clip_a.prompt == battle.clip_b.prompt == battle.prompt
    assert battle.clip_a.system != battle.clip_b.system
    assert (battle.ms_played_a, battle.ms_played_b, battle.seeks, battle.switches) == (0, 0, 0, 0)


def test_it_sets_the_expiry_from_the_battle_ttl_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_BATTLE_TTL_SECONDS = 90
    ClipFactory(prompt=(prompt := PromptFactory()))
    ClipFactory(prompt=prompt)
    before = timezone.now()
    battle = battle_create(rater=RaterFactory())
    after = timezone.now()
    assert before + timedelta(seconds=90) <= battle.expires_at <= after + timedelta(seconds=90)


def test_it_shuffles_the_sides() -> None:
    first, second = SystemFactory(), SystemFactory()
    prompts = [PromptFactory() for _ in range(2)]
    for prompt in prompts:
        ClipFactory(system=first, prompt=prompt)
        ClipFactory(system=second, prompt=prompt)
    on_side_a = [battle_create(rater=RaterFactory()).clip_a.system_id for _ in range(200)]
    first_on_a = on_side_a.count(first.pk)
    # Binomial(200, 1/2): outside 65..135 has odds below one in a million.
    assert 65 <= first_on_a <= 135


def test_it_answers_without_further_queries_for_what_the_battle_page_needs(  # type: ignore[no-untyped-def]
    django_assert_max_num_queries,
) -> None:
    ClipFactory(prompt=(prompt := PromptFactory()))
    ClipFactory(prompt=prompt)
    rater = RaterFactory()
    # Catalogue, vote counts (cached between requests in production), the rater's last pair, the two clips; then
    # the rater's row lock, the INSERT and the open-battle cap's UPDATE.
    with django_assert_max_num_queries(7):
        battle = battle_create(rater=rater)
        assert battle.prompt.text and battle.clip_a.duration_s and battle.clip_b.duration_s


def test_a_stale_cached_pick_is_made_again_from_fresh_data(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_SAMPLING_CACHE_SECONDS = 60
    first, second = SystemFactory(), SystemFactory()
    old_prompt, new_prompt = PromptFactory(), PromptFactory()
    moved = ClipFactory(system=first, prompt=old_prompt)
    ClipFactory(system=second, prompt=old_prompt)
    ClipFactory(system=first, prompt=new_prompt)
    ClipFactory(system=second, prompt=new_prompt)
    from arena.sampling import catalogue_load

    catalogue_load()  # remembers `moved` under the old prompt
    moved.prompt = new_prompt
    moved.save(update_fields=["prompt"])
    for _ in range(20):
        battle = battle_create(rater=RaterFactory())
        assert battle.clip_a.prompt_id == battle.clip_b.prompt_id == battle.prompt_id
        assert battle.clip_a.system_id != battle.clip_b.system_id
