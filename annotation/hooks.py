"""The annotation app's answers to the arena's and scoring's hooks, registered from AnnotationConfig.ready():
a vote on a campaign battle counts against its lease, and each campaign is a family of leaderboards
("campaign:<slug>[:<view>]") counted from its regular items by raters not left out; each imported public dataset
is one too ("imported:<source>"), and counts on the arena's board only while an admin sets `counts_in_arena`."""
from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from annotation.assignment import board_votes_filter, vote_on_assignment
from annotation.models import Assignment, Campaign, CampaignPair, ImportedVote, ImportSource
from arena import hooks as arena_hooks
from arena.models import Battle, Vote
from scoring.scopes import ArenaExtra, ScopeBase, arena_extra_register, scope_base_register

PREFIX = "campaign"
IMPORTED = "imported"


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


def _imported_filter(slug: str) -> Q | None:
    source_id = ImportSource.objects.filter(slug=slug).values_list("id", flat=True).first()
    return None if source_id is None else Q(battle__mode=Battle.Mode.IMPORTED, imported__source_id=source_id)


def _imported_names() -> list[str]:
    return [f"{IMPORTED}:{slug}" for slug in ImportSource.objects.order_by("id").values_list("slug", flat=True)]


def _imported_of_vote(vote: Vote) -> str | None:
    if vote.battle.mode != Battle.Mode.IMPORTED:
        return None
    slug = ImportedVote.objects.filter(vote_id=vote.pk).values_list("source__slug", flat=True).first()
    return None if slug is None else f"{IMPORTED}:{slug}"


def _arena_counted() -> Q | None:
    """The imported votes an admin lets count on the arena's board, as a filter that reads nothing when it is built
    (scope names are parsed on the event loop and on the vote path): an EXISTS on the vote's import row, which the
    database evaluates only for votes of imported battles."""
    counted = ImportedVote.objects.filter(vote_id=OuterRef("pk"), source__counts_in_arena=True)
    return Q(battle__mode=Battle.Mode.IMPORTED) & Q(Exists(counted))


def _arena_counts(vote: Vote) -> bool:
    return vote.battle.mode == Battle.Mode.IMPORTED and ImportedVote.objects.filter(
        vote_id=vote.pk, source__counts_in_arena=True
    ).exists()


def register() -> None:
    arena_hooks.on_vote_recorded(_vote_recorded)
    scope_base_register(
        ScopeBase(
            prefix=PREFIX, votes_filter=_votes_filter, names=_names, of_vote=_of_vote, reliability_weighted=True
        )
    )
    scope_base_register(
        ScopeBase(prefix=IMPORTED, votes_filter=_imported_filter, names=_imported_names, of_vote=_imported_of_vote)
    )
    arena_extra_register(IMPORTED, ArenaExtra(votes_filter=_arena_counted, counts=_arena_counts))
