"""Shared helpers of the campaign tests: a small campaign of real rows, raters joined to it, and items worked
through the arena's real vote path (listening reported, audio fetched, listening checks passed)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater
from arena.models import Clip, Prompt, System, Vote
from arena.services import vote_record
from tests.arena.test_vote_record import listened
from tests.factories import ClipFactory, PromptFactory, RaterFactory, SystemFactory


@dataclass
class SmallCampaign:
    campaign: Campaign
    systems: list[System] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    clips: dict[tuple[int, int], Clip] = field(default_factory=dict)

    def regular_pairs(self) -> list[CampaignPair]:
        return list(self.campaign.pairs.filter(kind=CampaignPair.Kind.REGULAR))


def small_campaign(
    *, systems: int = 3, prompts: int = 2, overlap: int = 3, gold_rate: float = 0.0, **fields: Any
) -> SmallCampaign:
    """An open campaign over every system pair of every prompt (1 s clips, so a vote needs 1 s of each)."""
    campaign = Campaign.objects.create(
        name=fields.pop("name", "Pilot"), slug=fields.pop("slug", "pilot"), overlap=overlap, gold_rate=gold_rate,
        status=Campaign.Status.OPEN, min_listen_seconds=1.0, fast_decision_seconds=0.0, **fields,
    )
    made = SmallCampaign(campaign, [SystemFactory() for _ in range(systems)], [PromptFactory() for _ in range(prompts)])
    for system, prompt in itertools.product(made.systems, made.prompts):
        made.clips[system.pk, prompt.pk] = ClipFactory(system=system, prompt=prompt, duration_s=1.0)
    position = 0
    for prompt in made.prompts:
        for first, second in itertools.combinations(made.systems, 2):
            CampaignPair.objects.create(
                campaign=campaign, prompt=prompt, clip_a=made.clips[first.pk, prompt.pk],
                clip_b=made.clips[second.pk, prompt.pk], overlap=overlap, position=position,
            )
            position += 1
    return made


def member_join(campaign: Campaign, **fields: Any) -> CampaignRater:
    return CampaignRater.objects.create(
        campaign=campaign, rater=RaterFactory(), consented_at=timezone.now(), **fields
    )


def item_vote(assignment: Assignment, choice: str = "a", **answers: Any) -> Vote:
    """Listen to both clips of the item's battle for real (1 s each, audio fetched) and vote."""
    battle = listened(assignment.battle, a_ms=1000, b_ms=1000)
    vote, created = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice=choice, **answers)
    assert created
    return vote
