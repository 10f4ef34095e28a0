"""Reads of the arena: a rater's battle, what it asks of the listener, the reveal after a vote, catalogue lists."""
from __future__ import annotations

import uuid
from typing import TypedDict

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from arena.errors import BattleNotFound
from arena.models import Battle, Prompt, Rater, System, Vote
from scoring.selectors import system_ratings

BASE_AXES = ["musicality", "prompt_alignment"]
LYRICS_AXIS = "lyrics_alignment"


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
    return [*BASE_AXES, LYRICS_AXIS] if battle.prompt.has_lyrics else list(BASE_AXES)

CLIP_END_TOLERANCE_MS = 100


def listening_required_ms(*, battle: Battle) -> dict[str, int]:
    """Minimum listening per side: EARSHOT_MIN_LISTEN_SECONDS, or the whole clip when it is shorter."""
    minimum_ms = settings.EARSHOT_MIN_LISTEN_SECONDS * 1000

    def required(duration_s: float) -> int:
        whole_ms = duration_s * 1000
        if whole_ms <= minimum_ms:
            # "the whole clip", less what a browser's decoder may trim at the ends of an MP3
            return max(0, round(whole_ms - CLIP_END_TOLERANCE_MS))
        return round(minimum_ms)

    return {"a": required(battle.clip_a.duration_s), "b": required(battle.clip_b.duration_s)}


def vote_reveal(*, vote: Vote) -> dict[str, RevealedSystem]:
    """The two systems behind a voted battle, with their current arena rating and 95% interval (None before any)."""
    ratings = system_ratings(scope="arena")

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


def systems_list() -> QuerySet[System]:
    """Systems with how many active clips each has; nothing here links a clip or a battle to a system."""
    return System.objects.annotate(clip_count=Count("clips", filter=Q(clips__active=True))).order_by("name")


def prompts_list() -> QuerySet[Prompt]:
    """Prompts with how many active clips of active systems each has."""
    return Prompt.objects.annotate(
        clip_count=Count("clips", filter=Q(clips__active=True, clips__system__active=True))
    ).order_by("id")
