"""Admin pages of the reward model: versions (activate, progress), clip scores, agreement reports.

Imported from ScoringConfig.ready(); the actions call reward.services, which never imports torch.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.errors import EarshotError
from reward.models import AgreementReport, ClipScore, RewardModelVersion
from reward.selectors import version_progress, version_score_count


def _progress_text(entry: dict[str, Any]) -> str:
    if not entry:
        return "—"
    status = entry.get("status", "")
    done, total = entry.get("done"), entry.get("total")
    step = entry.get("step")
    parts = [str(status)]
    if step:
        parts.append(str(step))
    if total:
        parts.append(f"{done}/{total}")
    return " ".join(parts)


@admin.register(RewardModelVersion)
class RewardModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "training_progress", "rescore_progress", "clips_scored", "held_out_accuracy",
                    "created_at")
    list_filter = ("active",)
    search_fields = ("name", "path", "sha256")
    readonly_fields = ("active", "sha256", "created_at", "clips_scored")
    actions = ["activate_version", "rescore_version"]

    @admin.display(description="training")
    def training_progress(self, obj: RewardModelVersion) -> str:
        return _progress_text(version_progress(version=obj, kind="training"))

    @admin.display(description="rescoring")
    def rescore_progress(self, obj: RewardModelVersion) -> str:
        return _progress_text(version_progress(version=obj, kind="rescore"))

    @admin.display(description="clips scored")
    def clips_scored(self, obj: RewardModelVersion) -> int:
        return version_score_count(version=obj)

    @admin.display(description="held-out accuracy (overall)")
    def held_out_accuracy(self, obj: RewardModelVersion) -> str:
        figure = ((obj.metrics or {}).get("held_out") or {}).get("overall") or {}
        accuracy = figure.get("accuracy")
        if accuracy is None:
            return "—"
        return format_html("{} <small>(n = {})</small>", f"{accuracy:.3f}", figure.get("decisive_pairs", "?"))

    @admin.action(description="Activate the selected version (rescores every clip)")
    def activate_version(self, request: HttpRequest, queryset: QuerySet[RewardModelVersion]) -> None:
        from reward.services import version_activate

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", level=messages.ERROR)
            return
        try:
            version = version_activate(version=queryset.get())
        except EarshotError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        self.message_user(request, f"{version.name} is active; every clip is being rescored in the background.")

    @admin.action(description="Score the clips the selected versions have not scored yet")
    def rescore_version(self, request: HttpRequest, queryset: QuerySet[RewardModelVersion]) -> None:
        from reward.services import version_rescore_queue

        active = [version for version in queryset if version.active]
        for version in active:
            version_rescore_queue(version=version)
        skipped = queryset.count() - len(active)
        self.message_user(
            request,
            f"Queued rescoring for {len(active)} active version(s)"
            + (f"; {skipped} inactive version(s) left alone (activate one to rescore with it)." if skipped else "."),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Versions come from training or `reward_model_ensure_default`, with their checkpoint hashed on the way in.
        return False


@admin.register(ClipScore)
class ClipScoreAdmin(admin.ModelAdmin):
    list_display = ("clip", "system", "prompt_id", "axis", "score", "version", "computed_at")
    list_filter = ("version", "axis", "clip__system")
    search_fields = ("clip__public_id", "clip__prompt__text", "clip__system__name")
    list_select_related = ("clip__system", "version")
    raw_id_fields = ("clip",)
    readonly_fields = ("version", "clip", "axis", "score", "computed_at")

    @admin.display(description="system")
    def system(self, obj: ClipScore) -> str:
        return obj.clip.system.name

    @admin.display(description="prompt")
    def prompt_id(self, obj: ClipScore) -> int:
        return obj.clip.prompt_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AgreementReport)
class AgreementReportAdmin(admin.ModelAdmin):
    list_display = ("version", "scope", "vote_count", "overall_accuracy", "computed_at")
    list_filter = ("version", "scope")
    readonly_fields = ("version", "scope", "vote_count", "figures", "computed_at")

    @admin.display(description="accuracy (overall, non-tie)")
    def overall_accuracy(self, obj: AgreementReport) -> str:
        accuracy = (((obj.figures or {}).get("axes") or {}).get("overall") or {}).get("model", {}).get("accuracy", {})
        value = accuracy.get("value")
        return "—" if value is None else f"{value:.3f} (n = {accuracy.get('n')})"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
