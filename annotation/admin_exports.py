"""Admin pages of preference exports: a form that queues one, the list with each job's progress bar and files, and
the action "Export their votes" that campaigns' admin offers (annotation.admin registers it).

Web code: it validates and queues (annotation.export_jobs); a Celery worker writes the files.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotation.export_jobs import export_queue
from annotation.export_schema import Shape
from annotation.exports import AXIS_NAMES, FORMATS, ExportSpec
from annotation.models import Campaign, DatasetExport
from core.errors import EarshotError
from scoring.scopes import ARENA


def _sources() -> list[tuple[str, str]]:
    return [(ARENA, "Open arena")] + [(c.scope, f"Campaign: {c.name}") for c in Campaign.objects.order_by("name")]


class ExportForm(forms.Form):
    sources = forms.MultipleChoiceField(choices=_sources, initial=[ARENA], widget=forms.CheckboxSelectMultiple)
    shape = forms.ChoiceField(choices=[(s.value, s.value) for s in Shape], initial=Shape.VOTES.value,
                              help_text="votes: a row per vote; pairs: a row per clip pair with counts and majority; "
                              "chosen_rejected: a row per decided vote and axis, for preference training.")
    formats = forms.MultipleChoiceField(choices=[(f, f) for f in FORMATS], initial=list(FORMATS),
                                        widget=forms.CheckboxSelectMultiple)
    since = forms.DateTimeField(required=False, help_text="UTC, e.g. 2026-11-01 00:00")
    until = forms.DateTimeField(required=False)
    axes = forms.MultipleChoiceField(choices=[(a, a) for a in AXIS_NAMES], initial=list(AXIS_NAMES), required=False,
                                     widget=forms.CheckboxSelectMultiple)
    include_flagged = forms.BooleanField(required=False, help_text="Also the votes of raters left out of the boards.")
    min_votes = forms.IntegerField(min_value=1, initial=1, help_text="Only clip pairs with at least this many votes.")
    include_feedback = forms.BooleanField(required=False, help_text="Include the raters' free-text reasons.")
    embargo_days = forms.FloatField(required=False, min_value=0,
                                    help_text="Public release: leave out votes younger than this many days.")
    bundle = forms.BooleanField(required=False, help_text="Copy the audio and write a tar of the whole export.")
    license = forms.CharField(initial="cc-by-4.0", max_length=64)

    def spec(self) -> ExportSpec:
        data = self.cleaned_data
        return ExportSpec(
            sources=tuple(data["sources"]), shape=Shape(data["shape"]), formats=tuple(data["formats"]),
            since=data["since"], until=data["until"], axes=tuple(data["axes"]),
            include_flagged=data["include_flagged"], min_votes=data["min_votes"],
            include_feedback=data["include_feedback"],
            embargo=timedelta(days=data["embargo_days"]) if data["embargo_days"] is not None else None,
            bundle=data["bundle"], license=data["license"],
        )


@admin.register(DatasetExport)
class DatasetExportAdmin(admin.ModelAdmin):
    list_display = ("public_id", "kind", "status", "progress_bar", "rows_written", "sources", "created_by",
                    "created_at")
    list_filter = ("status", "kind")
    readonly_fields = ("public_id", "kind", "status", "progress_bar", "rows_done", "rows_total", "rows_written",
                       "spec", "boards", "download_links", "bundle_sha256", "reason", "created_by", "created_at",
                       "started_at", "finished_at")
    exclude = ("files",)

    @admin.display(description="progress")
    def progress_bar(self, obj: DatasetExport) -> str:
        done = obj.rows_total if obj.status == DatasetExport.Status.DONE else obj.rows_done
        total = obj.rows_total or 0
        return format_html('<progress value="{}" max="{}" style="width:8em"></progress> {} / {}', done,
                           max(total, 1), done, total or "?")

    @admin.display(description="sources")
    def sources(self, obj: DatasetExport) -> str:
        return ", ".join(obj.spec.get("sources", []))

    @admin.display(description="files")
    def download_links(self, obj: DatasetExport) -> str:
        if obj.status != DatasetExport.Status.DONE:
            return "—"
        return format_html_join(
            "", '<div><a href="{}">{}</a></div>',
            ((reverse("annotation-exports:export-file", args=[obj.public_id, name]), name) for name in obj.files),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
                 ) -> HttpResponse:
        """The add page is the export form: it queues a job instead of saving a row by hand."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = ExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                export = export_queue(spec=form.spec(), by=request.user)
            except EarshotError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Export {export.public_id} queued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:annotation_datasetexport_change", args=[export.pk]))
        from django.template.response import TemplateResponse

        context = {**self.admin_site.each_context(request), "title": "New preference export", "form": form,
                   "opts": self.model._meta, "has_view_permission": True}
        return TemplateResponse(request, "annotation/admin_export_form.html", context)


@admin.action(description="Export their votes (preference dataset)")
def export_campaign_votes(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    """The chosen campaigns' votes, every format, per-vote rows, flagged raters left out."""
    if not request.user.has_perm("annotation.add_datasetexport"):
        modeladmin.message_user(request, "You may not create exports.", messages.ERROR)
        return
    try:
        export = export_queue(spec=ExportSpec(sources=tuple(c.scope for c in queryset)), by=request.user)
    except EarshotError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return
    modeladmin.message_user(request, f"Export {export.public_id} queued: follow it under Dataset exports.",
                            messages.SUCCESS)
