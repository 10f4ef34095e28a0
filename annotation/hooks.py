"""The annotation app's answers to the arena's and scoring's hooks, registered from AnnotationConfig.ready():
a vote on a campaign battle counts against its lease, and each campaign is a family of leaderboards
("campaign:<slug>[:<view>]") counted from its regular items by raters not left out."""
from __future__ import annotations

from django.db.models import Q

from annotation.assignment import board_votes_filter, vote_on_assignment
from annotation.models import Assignment, Campaign, CampaignPair
from arena import hooks as arena_hooks
from arena.models import Battle, Vote
from scoring.scopes import ScopeBase, scope_base_register

PREFIX = "campaign"


def _vote_recorded(vote: Vote) -> None:
    if vote.battle.mode == Battle.Mode.CAMPAIGN:
        vote_on_assignment(vote)


def _votes_filter(slug: str) -> Q | None:
    campaign_id = Campaign.objects.filter(slug=slug).values_list("id", flat=True).first()
    return None if campaign_id is None else board_votes_filter(campaign_id)


def _names() -> list[str]:
    return [f"{PREFIX}:{slug}" for slug in Campaign.objects.order_by("id").values_list("slug", flat=True)]


def _of_vote(vote: Vote) -> str | None:
    row = (
        Assignment.objects.filter(battle_id=vote.battle_id, kind=CampaignPair.Kind.REGULAR)
        .values_list("pair__campaign__slug", flat=True)
        .first()
    )
    return None if row is None else f"{PREFIX}:{row}"


def register() -> None:
    arena_hooks.on_vote_recorded(_vote_recorded)
    scope_base_register(
        ScopeBase(
            prefix=PREFIX, votes_filter=_votes_filter, names=_names, of_vote=_of_vote, reliability_weighted=True
        )
    )
