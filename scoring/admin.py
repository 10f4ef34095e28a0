"""Admin of scoring: leaderboard snapshots (read-only history) and each scope's recompute state."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from scoring.models import LeaderboardSnapshot, ScopeRecompute


@admin.register(LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(admin.ModelAdmin):
    list_display = ["scope", "computed_at", "vote_count", "last_vote_id", "method"]
    list_filter = ["scope", "method"]
    date_hierarchy = "computed_at"
    readonly_fields = ["scope", "method", "rows", "win_rate", "extra", "digest", "vote_count", "last_vote_id",
                       "computed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ScopeRecompute)
class ScopeRecomputeAdmin(admin.ModelAdmin):
    list_display = ["scope", "running_since", "finished_at"]
    readonly_fields = ["scope", "running_since", "finished_at"]
    actions = ["recompute_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Queue a recompute of the selected scopes")
    def recompute_now(self, request: HttpRequest, queryset: object) -> None:
        from scoring.services import leaderboards_request_recompute

        scopes = [row.scope for row in queryset]  # type: ignore[attr-defined]
        leaderboards_request_recompute(scopes=scopes)
        self.message_user(request, f"Recompute queued for {', '.join(scopes)}.")
