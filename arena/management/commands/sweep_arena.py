"""manage.py sweep_arena: run the periodic sweep once, here and now."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from arena.services.sweep import arena_sweep


class Command(BaseCommand):
    help = (
        "Mark expired battles, prune anonymous raters that never voted, clear expired sessions and delete ended "
        "battles' audio copies (what beat runs)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = arena_sweep(now=timezone.now())
        self.stdout.write(
            f"{counts.battles_expired} battles expired, {counts.raters_pruned} raters pruned, expired sessions "
            f"cleared, {counts.copies_deleted} battle audio copies deleted"
        )
