"""Handing out a campaign's items: leases on pairs, chosen with SELECT … FOR UPDATE SKIP LOCKED, and what a vote on
a leased item does (DESIGN.md flow 5).

Invariants, whatever the concurrency:
- a regular pair never collects more than `overlap` (k) finished votes: the pair's row is locked to hand it out and
  to count a vote on it, a pair is handed out only while its finished votes plus live leases stay under k, and the
  database refuses `votes_done > overlap` (constraint) as the last guard;
- a rater never gets the same pair twice (unique (pair, rater) assignment);
- a rater holds at most one live lease (partial unique constraint); asking again returns the same item.

Lock order, everywhere: the campaign rater's row, then the assignment's, then the pair's (a vote's battle row is
locked before all of them by the arena). Handing out skips pairs other raters hold locked instead of waiting.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.errors import CampaignClosed, ConsentRequired, LeaseLost, PairComplete
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater
from annotation.quality import member_quality_refresh
from arena.models import Battle, Vote
from arena.selectors import listening_required_ms
from arena.services.battles import battle_open_for_clips

_system_random = random.SystemRandom()
Kind = CampaignPair.Kind
LEASED = Assignment.Status.LEASED
# How many locked-then-stale candidates one request tries before it looks again from the top.
_RECHECKS = 8


@dataclass(frozen=True)
class NextItem:
    """What a rater gets: their leased item, or None with `done` True when the campaign has nothing left for them."""

    assignment: Assignment | None
    done: bool


def _live_leases(now: datetime) -> Subquery:
    leases = (
        Assignment.objects.filter(pair=OuterRef("pk"), status=LEASED, expires_at__gt=now)
        .order_by()
        .values("pair")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(leases, output_field=IntegerField()), Value(0))  # type: ignore[return-value]


def _unseen(pairs: QuerySet[CampaignPair], member: CampaignRater) -> QuerySet[CampaignPair]:
    return pairs.exclude(Exists(Assignment.objects.filter(pair=OuterRef("pk"), member=member)))


def _open_regular_pairs(*, member: CampaignRater, now: datetime, skip: list[int]) -> QuerySet[CampaignPair]:
    """Regular pairs this rater has not had whose finished votes plus live leases are under k, fullest first (so
    pairs finish and overlap builds up early)."""
    pairs = CampaignPair.objects.filter(campaign_id=member.campaign_id, kind=Kind.REGULAR, votes_done__lt=F("overlap"))
    return (
        _unseen(pairs, member)
        .exclude(pk__in=skip)
        .alias(taken=F("votes_done") + _live_leases(now))
        .filter(taken__lt=F("overlap"))
        .order_by("-votes_done", "position", "id")
    )


def _regular_pair_take(*, member: CampaignRater, now: datetime) -> CampaignPair | None:
    """Lock and return a regular pair that may take one more lease, or None when none is left for this rater.

    Rows other raters hold locked are skipped. The candidate is checked again once locked, in a new statement that
    sees everything committed before the lock was granted (the first statement's snapshot may predate it).
    """
    stale: list[int] = []
    for _ in range(_RECHECKS):
        candidate = (
            _open_regular_pairs(member=member, now=now, skip=stale)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if candidate is None:
            return None
        if _open_regular_pairs(member=member, now=now, skip=[]).filter(pk=candidate.pk).exists():
            return candidate
        stale.append(candidate.pk)
    return None


def _other_pair_take(*, member: CampaignRater, kind: str, rng: random.Random) -> CampaignPair | None:
    """A gold or practice pair this rater has not had (these take any number of votes: no lock needed)."""
    pairs = list(_unseen(CampaignPair.objects.filter(campaign_id=member.campaign_id, kind=kind), member)
                 .order_by("position", "id")[:50])
    if not pairs:
        return None
    return pairs[0] if kind == Kind.PRACTICE else rng.choice(pairs)


def _current_lease(member: CampaignRater, now: datetime) -> Assignment | None:
    """The rater's live lease, or None; a lease past its time is marked expired (its pair is back in the pool)."""
    lease = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("battle", "pair")
        .filter(member=member, status=LEASED)
        .first()
    )
    if lease is None:
        return None
    if lease.expires_at > now and lease.battle.status == Battle.Status.OPEN:
        return lease
    Assignment.objects.filter(pk=lease.pk).update(status=Assignment.Status.EXPIRED, finished_at=now)
    return None


def assignment_next(
    *, member: CampaignRater, now: datetime | None = None, rng: random.Random | None = None
) -> NextItem:
    """The rater's item: their live lease if they hold one, else a new lease on practice (first), gold (at the
    campaign's gold rate) or a regular pair; `done` when no regular pair is left for them (then also no gold)."""
    now = now or timezone.now()
    rng = rng or _system_random
    with transaction.atomic():
        member = CampaignRater.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=member.pk)
        campaign = member.campaign
        if campaign.status != Campaign.Status.OPEN:
            raise CampaignClosed()
        if campaign.consent.strip() and member.consented_at is None:
            raise ConsentRequired()
        current = _current_lease(member, now)
        if current is not None:
            return NextItem(current, done=False)
        pair: CampaignPair | None = None
        if member.practice_done < campaign.practice_items:
            pair = _other_pair_take(member=member, kind=Kind.PRACTICE, rng=rng)
        if pair is None and campaign.gold_rate > 0 and rng.random() < campaign.gold_rate:
            # Gold only while regular work remains, so a rater's last item is never a check.
            if _open_regular_pairs(member=member, now=now, skip=[]).exists():
                pair = _other_pair_take(member=member, kind=Kind.GOLD, rng=rng)
        if pair is None:
            pair = _regular_pair_take(member=member, now=now)
        if pair is None:
            if member.completed_at is None:
                CampaignRater.objects.filter(pk=member.pk).update(completed_at=now)
            return NextItem(None, done=True)
        return NextItem(_lease(member=member, campaign=campaign, pair=pair, now=now, rng=rng), done=False)


def _lease(
    *, member: CampaignRater, campaign: Campaign, pair: CampaignPair, now: datetime, rng: random.Random
) -> Assignment:
    expires_at = now + timedelta(minutes=campaign.lease_minutes)
    battle = battle_open_for_clips(
        rater=member.rater,
        clip_a=pair.clip_a,
        clip_b=pair.clip_b,
        mode=Battle.Mode.CAMPAIGN,
        expires_at=expires_at,
        min_listen_ms=round(campaign.min_listen_seconds * 1000),
        reveal_systems=campaign.reveal_systems and pair.kind == Kind.REGULAR,
        rng=rng,
    )
    return Assignment.objects.create(
        pair=pair, member=member, battle=battle, kind=pair.kind, status=LEASED, leased_at=now, expires_at=expires_at
    )


def assignment_skip(*, member: CampaignRater, battle_public_id: str, reason: str, now: datetime | None = None) -> None:
    """Give the leased item back with a reason (it returns to the pool; the rater never gets it again)."""
    now = now or timezone.now()
    reason = reason.strip()[:200]
    with transaction.atomic():
        CampaignRater.objects.select_for_update(of=("self",)).filter(pk=member.pk).first()
        lease = (
            Assignment.objects.select_for_update(of=("self",))
            .filter(member=member, battle__public_id=battle_public_id, status=LEASED)
            .first()
        )
        if lease is None:
            raise LeaseLost()
        Assignment.objects.filter(pk=lease.pk).update(
            status=Assignment.Status.SKIPPED, finished_at=now, skip_reason=reason or "no reason given"
        )
        Battle.objects.filter(pk=lease.battle_id, status=Battle.Status.OPEN).update(
            status=Battle.Status.ABANDONED, abandoned_at=now
        )
        CampaignRater.objects.filter(pk=member.pk).update(skips=F("skips") + 1)


def leases_expire(*, now: datetime | None = None) -> int:
    """Mark leases past their time expired (handing out already ignores them: this tidies and frees the raters'
    one-lease slot); returns how many."""
    now = now or timezone.now()
    return Assignment.objects.filter(status=LEASED, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED, finished_at=now
    )


def vote_on_assignment(vote: Vote, *, now: datetime | None = None) -> Assignment | None:
    """Count a vote on a campaign battle against its lease, inside the vote's transaction (the arena's
    vote_recorded hook). Raises LeaseLost or PairComplete, rolling the vote back, when the lease is gone or the
    pair already has k votes. The member's flags and exclusion are then recomputed from the new counters
    (annotation.quality), in the same transaction."""
    now = now or timezone.now()
    member_id = Assignment.objects.filter(battle_id=vote.battle_id).values_list("member_id", flat=True).first()
    if member_id is None:
        return None
    member = CampaignRater.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=member_id)
    lease = Assignment.objects.select_for_update(of=("self",)).select_related("pair").get(battle_id=vote.battle_id)
    if lease.status != LEASED:
        raise LeaseLost()
    pair = CampaignPair.objects.select_for_update(of=("self",)).get(pk=lease.pair_id)
    counters: dict[str, CombinedExpression] = {}
    gold_correct: bool | None = None
    if pair.kind == Kind.REGULAR:
        if pair.votes_done >= pair.overlap:
            raise PairComplete()
        CampaignPair.objects.filter(pk=pair.pk).update(votes_done=F("votes_done") + 1)
        counters["votes"] = F("votes") + 1
        if vote.choice in ("a", "b"):
            counters[f"side_{vote.choice}"] = F(f"side_{vote.choice}") + 1
        if _decided_fast(vote=vote, fast_seconds=member.campaign.fast_decision_seconds, now=now):
            counters["fast_decisions"] = F("fast_decisions") + 1
    elif pair.kind == Kind.GOLD:
        gold_correct = vote.choice == pair.gold.correct_side(vote.battle)
        counters["gold_answered"] = F("gold_answered") + 1
        if gold_correct:
            counters["gold_correct"] = F("gold_correct") + 1
    else:
        counters["practice_done"] = F("practice_done") + 1
    Assignment.objects.filter(pk=lease.pk).update(
        status=Assignment.Status.DONE, finished_at=now, gold_correct=gold_correct
    )
    CampaignRater.objects.filter(pk=member.pk).update(**counters)
    if pair.kind != Kind.PRACTICE:
        member_quality_refresh(member_id=member.pk)
    lease.status = Assignment.Status.DONE
    return lease


def _decided_fast(*, vote: Vote, fast_seconds: float, now: datetime) -> bool:
    """Whether the vote came less than `fast_seconds` after the earliest moment the listening checks allowed it:
    measured on the server (the battle's age at the vote), not from the page's own decision time."""
    battle = vote.battle
    earliest_ms = sum(listening_required_ms(battle=battle).values())
    age_ms = (now - battle.created_at).total_seconds() * 1000
    return age_ms < earliest_ms + fast_seconds * 1000


def board_votes_filter(campaign_id: int) -> Q:
    """The Vote filter of a campaign's boards: its regular items, from raters not left out."""
    return Q(
        battle__campaign_assignment__pair__campaign_id=campaign_id,
        battle__campaign_assignment__kind=Kind.REGULAR,
        battle__campaign_assignment__member__excluded=False,
    )
