"""Pre-ranked suggestions: what a battle records about the model's suggestion, its copy on the vote, and the
uncertainty sampling policy that prefers pairs the model is unsure about while every system stays in rotation."""
from __future__ import annotations

import math
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from arena.models import Battle, Clip, Vote
from arena.services.votes import vote_record
from reward.models import ClipScore, RewardModelVersion
from reward.sampling import CERTAIN_PAIR_WEIGHT, UncertaintyPolicy, pair_uncertainty
from reward.selectors import suggestion_for_new_battle
from tests.factories import ClipFactory, PromptFactory, RaterFactory, SystemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings: Any) -> None:
    settings.EARSHOT_SAMPLING_CACHE_SECONDS = 0
    settings.EARSHOT_MIN_LISTEN_SECONDS = 0.0
    cache.clear()


def _version() -> RewardModelVersion:
    return RewardModelVersion.objects.create(
        name="stored", class_path="reward.ml.interface.BundledRewardModel", path="/nowhere", sha256="0" * 64,
        active=True,
    )


def _battle(clip_a: Clip, clip_b: Clip, **suggestion: Any) -> Battle:
    """A battle created the way battle_create does it, with the suggestion fields the model decided on."""
    return Battle.objects.create(
        rater=RaterFactory(), prompt=clip_a.prompt, clip_a=clip_a, clip_b=clip_b,
        expires_at=timezone.now() + timedelta(hours=1), **suggestion,
    )


# A tiny share practically never shows the suggestion, but still records it: the control group for anchoring.
@pytest.mark.parametrize(("share", "shown"), [(1.0, True), (1e-9, False)])
def test_the_vote_records_whether_the_suggestion_was_shown_and_what_it_said(
    settings: Any, share: float, shown: bool
) -> None:
    settings.EARSHOT_SUGGESTION_SHARE = share
    version = _version()
    prompt = PromptFactory()
    clip_a, clip_b = ClipFactory(prompt=prompt), ClipFactory(prompt=prompt)
    ClipScore.objects.create(version=version, clip=clip_a, axis="overall", score=0.0)
    ClipScore.objects.create(version=version, clip=clip_b, axis="overall", score=math.log(4))
    battle = _battle(clip_a, clip_b, **suggestion_for_new_battle(clip_a=clip_a, clip_b=clip_b))
    vote, created = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a")
    assert created
    vote = Vote.objects.get(pk=vote.pk)
    assert vote.suggestion_shown is shown
    assert vote.suggestion_side == "b"
    assert vote.suggestion_p == pytest.approx(0.8)


def test_with_a_share_of_zero_nothing_is_looked_up_or_recorded(
    settings: Any, django_assert_num_queries: Any
) -> None:
    settings.EARSHOT_SUGGESTION_SHARE = 0.0
    version = _version()
    prompt = PromptFactory()
    clip_a, clip_b = ClipFactory(prompt=prompt), ClipFactory(prompt=prompt)
    ClipScore.objects.create(version=version, clip=clip_a, axis="overall", score=0.0)
    ClipScore.objects.create(version=version, clip=clip_b, axis="overall", score=1.0)
    with django_assert_num_queries(0):
        decided = suggestion_for_new_battle(clip_a=clip_a, clip_b=clip_b)
    assert decided == {"suggestion_shown": False, "suggestion_side": "", "suggestion_p": None}


def test_without_an_active_model_nothing_is_suggested_or_recorded(settings: Any) -> None:
    settings.EARSHOT_SUGGESTION_SHARE = 1.0
    prompt = PromptFactory()
    clip_a, clip_b = ClipFactory(prompt=prompt), ClipFactory(prompt=prompt)
    assert suggestion_for_new_battle(clip_a=clip_a, clip_b=clip_b) == {
        "suggestion_shown": False, "suggestion_side": "", "suggestion_p": None
    }


def test_pair_uncertainty_is_highest_for_a_coin_flip() -> None:
    assert pair_uncertainty(p_a=0.5) == 1.0
    assert pair_uncertainty(p_a=0.9) == pytest.approx(0.36)
    assert pair_uncertainty(p_a=None) == 1.0


def test_the_uncertainty_policy_prefers_unsure_pairs_and_keeps_every_system_pair_in_rotation() -> None:
    version = _version()
    systems = [SystemFactory() for _ in range(3)]
    sure, unsure = PromptFactory(), PromptFactory()
    for index, system in enumerate(systems):
        # On `sure` the systems' clips are far apart in score; on `unsure` they tie.
        ClipScore.objects.create(version=version, clip=ClipFactory(system=system, prompt=sure), axis="overall",
                                 score=6.0 * index)
        ClipScore.objects.create(version=version, clip=ClipFactory(system=system, prompt=unsure), axis="overall",
                                 score=0.0)
    rater = RaterFactory()
    rng = random.Random(7)
    policy = UncertaintyPolicy()
    picks = [policy.choose(rater=rater, rng=rng, fresh=True) for _ in range(600)]
    system_of = dict(Clip.objects.values_list("id", "system_id"))
    pairs = Counter(tuple(sorted(system_of[c] for c in pick.clip_ids)) for pick in picks)
    assert len(pairs) == 3 and min(pairs.values()) > 100  # every system pair keeps coming round
    share_unsure = sum(pick.prompt_id == unsure.pk for pick in picks) / len(picks)
    # Certain pairs (|score gap| >= 6, p > 0.997) weigh about CERTAIN_PAIR_WEIGHT against 1 for tied pairs.
    expected = 1 / (1 + CERTAIN_PAIR_WEIGHT + (1 - CERTAIN_PAIR_WEIGHT) * pair_uncertainty(p_a=1 / (1 + math.exp(-6))))
    assert share_unsure == pytest.approx(expected, abs=0.06)
    assert share_unsure > 0.8
