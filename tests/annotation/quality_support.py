"""Helpers of the quality-control tests: gold pairs added to a small campaign, random sources that force or forbid
gold items, and a rater's answer to a gold item (right or wrong)."""
from __future__ import annotations

import random

from annotation.assignment import assignment_next
from annotation.models import Assignment, CampaignPair, CampaignRater, GoldPair
from arena.models import Vote
from tests.annotation.campaign_support import SmallCampaign, item_vote
from tests.factories import ClipFactory


class FixedDraw(random.Random):
    """A random source whose `random()` always returns `value` (0.0: a gold item whenever one is left; 0.99: never),
    everything else drawn as usual from a fixed seed."""

    def __init__(self, value: float) -> None:
        super().__init__(7)
        self.value = value

    def random(self) -> float:
        return self.value


GOLD = FixedDraw(0.0)
NO_GOLD = FixedDraw(0.99)


def gold_pairs_add(made: SmallCampaign, count: int) -> list[CampaignPair]:
    """`count` gold pairs: a clip of the campaign against a (stand-in) damaged copy of it, 1 s each."""
    pairs = []
    for index in range(count):
        clean = list(made.clips.values())[index % len(made.clips)]
        damaged = ClipFactory(system=clean.system, prompt=clean.prompt, duration_s=1.0)
        pair = CampaignPair.objects.create(
            campaign=made.campaign, prompt=clean.prompt, clip_a=clean, clip_b=damaged, kind=CampaignPair.Kind.GOLD,
            overlap=made.campaign.overlap, position=1000 + index,
        )
        GoldPair.objects.create(pair=pair, clean_clip=clean, damaged_clip=damaged, damage="clipped at -30 dBFS")
        pairs.append(pair)
    return pairs


def gold_answer(assignment: Assignment, *, right: bool) -> Vote:
    gold = GoldPair.objects.get(pair_id=assignment.pair_id)
    correct = gold.correct_side(assignment.battle)
    return item_vote(assignment, correct if right else ("b" if correct == "a" else "a"))


def next_item(member: CampaignRater, *, kind: str, rng: random.Random) -> Assignment:
    """The member's next item, which must be of this kind."""
    assignment = assignment_next(member=member, rng=rng).assignment
    assert assignment is not None and assignment.kind == kind, assignment
    return assignment
