"""Reads of the arena: a rater's battle, what it asks of the listener, the reveal after a vote, catalogue lists."""
from __future__ import annotations

import uuid
from typing import Any, TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Count, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from arena import hooks
from arena.errors import BattleNotFound
from arena.models import Battle, Prompt, PromptOrigin, Rater, System, Vote
from core.axes import VOTE_AXES, Axis

LYRICS_AXIS = Axis.LYRICS_ALIGNMENT.value  # the vote service names it when a prompt without lyrics gets an answer


class RevealedSystem(TypedDict):
    name: str
    slug: str
    rating: float | None
    ci_low: float | None
    ci_high: float | None


def battle_get_for_rater(*, public_id: uuid.UUID | str, rater: Rater | None) -> Battle:
    """The rater's battle with its prompt and clips, or BattleNotFound (also for another rater's battle)."""
    if rater is None:
        raise BattleNotFound()
    try:
        return Battle.objects.select_related("prompt", "clip_a", "clip_b").get(public_id=public_id, rater=rater)
    except Battle.DoesNotExist as exc:
        raise BattleNotFound() from exc


def battle_axes(*, battle: Battle) -> list[str]:
    """The per-axis questions of this battle: lyrics alignment only where the prompt has lyrics."""
    has_lyrics = battle.prompt.has_lyrics
    return [axis.value for axis in VOTE_AXES if has_lyrics or not axis.needs_lyrics]

CLIP_END_TOLERANCE_MS = 100


def listening_required_ms(*, battle: Battle) -> dict[str, int]:
    """Minimum listening per side: the battle's own minimum (a campaign's) or EARSHOT_MIN_LISTEN_SECONDS, or the
    whole clip when it is shorter."""
    minimum_ms = (
        battle.min_listen_ms if battle.min_listen_ms is not None else settings.EARSHOT_MIN_LISTEN_SECONDS * 1000
    )

    def required(duration_s: float) -> int:
        whole_ms = duration_s * 1000
        if whole_ms <= minimum_ms:
            # "the whole clip", less what a browser's decoder may trim at the ends of an MP3
            return max(0, round(whole_ms - CLIP_END_TOLERANCE_MS))
        return round(minimum_ms)

    return {"a": required(battle.clip_a.duration_s), "b": required(battle.clip_b.duration_s)}


def vote_reveal(*, vote: Vote) -> dict[str, RevealedSystem]:
    """The two systems behind a voted battle, with their current arena rating and 95% interval (None before any)."""
    ratings = hooks.system_ratings("arena")

    def revealed(system: System) -> RevealedSystem:
        rating = ratings.get(system.pk, {})
        return {
            "name": system.name,
            "slug": system.slug,
            "rating": rating.get("rating"),
            "ci_low": rating.get("ci_low"),
            "ci_high": rating.get("ci_high"),
        }

    return {"a": revealed(vote.system_a), "b": revealed(vote.system_b)}


def suggestion_public(*, shown: bool, side: str, p: float | None) -> dict[str, Any] | None:
    """What the rater sees of a suggestion: nothing when hidden, else the side and the probability to two places."""
    if not shown or side not in {"a", "b"} or p is None:
        return None
    return {"side": side, "p": round(p, 2), "text": f"The model expects {side.upper()} (p = {p:.2f})"}


def systems_list() -> QuerySet[System]:
    """Systems with how many active clips each has; nothing here links a clip or a battle to a system."""
    return System.objects.annotate(clip_count=Count("clips", filter=Q(clips__active=True))).order_by("name")


def prompts_list() -> QuerySet[Prompt]:
    """Bank prompts (listeners' own stay private) with how many active clips of active systems each has."""
    return Prompt.objects.filter(origin=PromptOrigin.BANK).annotate(
        clip_count=Count("clips", filter=Q(clips__active=True, clips__system__active=True))
    ).order_by("id")


class RaterFlag(models.TextChoices):
    """Why the admin's rater list points a rater out."""

    ABANDONS = "abandons", "Abandons most battles"
    SHARED_ADDRESS = "shared_address", "Shares its address with many raters"


def _abandons_most() -> Q:
    # abandoned / opened >= share, without a division (and so without one by zero)
    share = ExpressionWrapper(
        F("battles_opened") * Value(settings.EARSHOT_FLAG_ABANDON_SHARE), output_field=models.FloatField()
    )
    return Q(battles_abandoned__gte=settings.EARSHOT_FLAG_ABANDON_MIN) & Q(battles_abandoned__gte=share)


def _crowded_addresses() -> QuerySet[Any, Any]:
    """The address hashes that EARSHOT_FLAG_RATERS_PER_IP or more raters were created from (one GROUP BY)."""
    return (
        Rater.objects.exclude(ip_hash="").order_by().values("ip_hash")
        .annotate(raters=Count("id")).filter(raters__gte=settings.EARSHOT_FLAG_RATERS_PER_IP).values("ip_hash")
    )


def rater_flag_condition(flag: str) -> Q:
    """The filter choosing raters with this flag (a RaterFlag value)."""
    if flag == RaterFlag.ABANDONS:
        return _abandons_most()
    if flag == RaterFlag.SHARED_ADDRESS:
        return Q(ip_hash__in=_crowded_addresses())
    raise ValueError(f"unknown rater flag {flag!r}")


def raters_flagged(*, flag: str | None = None) -> QuerySet[Rater]:
    """Raters with this flag, or with any flag when `flag` is None.

    Abandoning most battles: at least EARSHOT_FLAG_ABANDON_MIN abandoned, and at least EARSHOT_FLAG_ABANDON_SHARE
    of the battles opened. A shared address: EARSHOT_FLAG_RATERS_PER_IP or more raters created from the same
    salted address hash (raters pruned by the sweep no longer count).
    """
    flags = [flag] if flag is not None else list(RaterFlag.values)
    condition = Q()
    for name in flags:
        condition |= rater_flag_condition(name)
    return Rater.objects.filter(condition)


def raters_with_flags() -> QuerySet[Rater]:
    """Raters with what the admin list shows: how many raters share each one's address hash (`raters_on_address`,
    itself included) and one boolean per RaterFlag (`flag_abandons`, `flag_shared_address`)."""
    same_address = (
        Rater.objects.filter(ip_hash=OuterRef("ip_hash")).exclude(ip_hash="").order_by().values("ip_hash")
        .annotate(raters=Count("id")).values("raters")
    )
    return Rater.objects.annotate(
        raters_on_address=Coalesce(Subquery(same_address), 1),
        flag_abandons=ExpressionWrapper(_abandons_most(), output_field=models.BooleanField()),
    ).annotate(
        flag_shared_address=ExpressionWrapper(
            Q(raters_on_address__gte=settings.EARSHOT_FLAG_RATERS_PER_IP), output_field=models.BooleanField()
        )
    )
