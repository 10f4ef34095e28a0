"""Rater writes: leaving a rater out of the leaderboards (or back in), and pruning anonymous raters that never
voted."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from arena import hooks
from arena.models import Battle, Rater, Vote

PRUNE_BATCH = 1000


def raters_board_exclusion_set(*, rater_ids: Iterable[int], excluded: bool) -> int:
    """Leave these raters' votes out of every leaderboard (or count them again); how many raters changed.

    When any did, a full recompute is queued after the commit (the boards' pair counts are rebuilt from votes).
    """
    with transaction.atomic():
        changed = (
            Rater.objects.filter(pk__in=list(rater_ids)).exclude(excluded_from_boards=excluded)
            .update(excluded_from_boards=excluded)
        )
        if changed:
            hooks.raters_exclusion_changed()
    return changed


def _prunable(*, now: datetime) -> QuerySet[Rater]:
    cutoff = now - timedelta(seconds=settings.EARSHOT_RATER_PRUNE_AFTER_SECONDS)
    return (
        Rater.objects.filter(user__isnull=True, created_at__lt=cutoff)
        .exclude(Exists(Vote.objects.filter(rater=OuterRef("pk"))))
        .exclude(Exists(Battle.objects.filter(rater=OuterRef("pk"), status=Battle.Status.OPEN)))
    )


def raters_prune(*, now: datetime) -> int:
    """Delete anonymous raters older than EARSHOT_RATER_PRUNE_AFTER_SECONDS with no vote and no open battle (their
    closed battles go with them); how many.

    Each batch locks its raters (skipping any a request holds) and checks again under the locks: battle_create
    takes the same lock before it inserts, so no battle, and so no vote, can appear for a rater being deleted.
    """
    pruned = 0
    while True:
        with transaction.atomic():
            ids = list(
                _prunable(now=now).select_for_update(skip_locked=True).order_by("pk")
                .values_list("pk", flat=True)[:PRUNE_BATCH]
            )
            if ids:
                _, per_model = _prunable(now=now).filter(pk__in=ids).delete()
                pruned += per_model.get(Rater._meta.label, 0)
        if len(ids) < PRUNE_BATCH:
            return pruned
