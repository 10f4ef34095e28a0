"""Admin pages of the campaigns: settings and links, the pairs and leases (read only), and the raters with their
quality flags, where an admin decides who counts (every decision recorded with who made it and why).

Web code: nothing here imports torch; pair building (its own action and form) runs its heavy work elsewhere.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from annotation.admin_build import build_pairs
from annotation.admin_exports import export_campaign_votes
from annotation.models import (
    Assignment,
    Campaign,
    CampaignPair,
    CampaignRater,
    GoldPair,
    ImportSource,
    QualityDecision,
    default_axes,
)
from annotation.quality import Flag, member_override
from core.axes import choices as axis_choices
from scoring.scopes import ARENA, AXES, SUBSETS
from scoring.services import leaderboards_request_recompute

REGULAR = CampaignPair.Kind.REGULAR


# ---------------------------------------------------------------------------------------------------------------
# Campaigns


def invite_link(campaign: Campaign, root: str) -> str:
    """The link an invited rater opens (`root` is the site's address, ending in "/")."""
    return f"{root}c/{campaign.slug}/?invite={campaign.invite_token}"


def crowd_link(campaign: Campaign, root: str) -> str:
    """The study link to paste into the crowd platform: it fills in each {{%PARAM%}} with the participant's ids."""
    params = [p for p in (campaign.crowd_id_param, campaign.crowd_study_param, campaign.crowd_session_param) if p]
    query = "&".join(f"{param}={{{{%{param}%}}}}" for param in params)
    return f"{root}c/{campaign.slug}/?{query}"


def _count(rows: QuerySet[Any]) -> Coalesce:
    counted = rows.order_by().values("campaign").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class CampaignAdminForm(forms.ModelForm):
    axes = forms.MultipleChoiceField(
        choices=axis_choices(), widget=forms.CheckboxSelectMultiple, initial=default_axes,
        help_text="Questions asked on each item; overall is always asked.",
    )

    class Meta:
        model = Campaign
        fields = (
            "name", "slug", "status", "instructions", "consent", "axes", "practice_items", "reveal_systems",
            "overlap", "lease_minutes", "min_listen_seconds", "gold_rate", "gold_threshold", "gold_min_answers",
            "fast_decision_seconds", "invite_token", "crowd_id_param", "crowd_study_param", "crowd_session_param",
            "completion_code", "completion_url",
        )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ("name", "slug", "status", "pairs_done", "raters", "overlap", "gold_rate", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("invite_link", "crowd_link", "created_by", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "status")}),
        ("What raters see", {"fields": ("instructions", "consent", "axes", "practice_items", "reveal_systems")}),
        ("Overlap and leases", {"fields": ("overlap", "lease_minutes", "min_listen_seconds")}),
        ("Quality control", {
            "fields": ("gold_rate", "gold_threshold", "gold_min_answers", "fast_decision_seconds"),
            "description": "Raters under the gold threshold (after the minimum gold answers) are left out of the "
                           "boards and exports unless an admin decides otherwise on the campaign raters' page.",
        }),
        ("Links", {"fields": ("invite_token", "invite_link", "crowd_link")}),
        ("Crowd platform", {
            "fields": ("crowd_id_param", "crowd_study_param", "crowd_session_param", "completion_code",
                       "completion_url"),
            "description": "Optional: the query parameters a platform such as Prolific puts in the study link, and "
                           "the code and address a rater is given when done.",
        }),
        ("Record", {"fields": ("created_by", "created_at")}),
    )
    # Pair building (prompts × systems, gold pairs, CSV/JSONL lists) adds its own action, with its own form, to
    # this tuple; everything else about a campaign's pairs is on the campaign pairs' page.
    actions = ("campaign_open", "campaign_close", build_pairs, export_campaign_votes)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        regular = CampaignPair.objects.filter(campaign=OuterRef("pk"), kind=REGULAR)
        return super().get_queryset(request).annotate(
            pairs_total=_count(regular),
            pairs_complete=_count(regular.filter(votes_done__gte=F("overlap"))),
            raters_total=_count(CampaignRater.objects.filter(campaign=OuterRef("pk"))),
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Campaign | None:
        campaign = super().get_object(request, object_id, from_field)
        if campaign is not None:
            # The links name this site as the admin reached it; kept on the row read for this request only.
            campaign.site_root = request.build_absolute_uri("/")  # type: ignore[attr-defined]
        return campaign

    @admin.display(description="pairs done", ordering="pairs_complete")
    def pairs_done(self, obj: Campaign) -> str:
        return f"{getattr(obj, 'pairs_complete', 0)}/{getattr(obj, 'pairs_total', 0)}"

    @admin.display(description="raters", ordering="raters_total")
    def raters(self, obj: Campaign) -> int:
        return int(getattr(obj, "raters_total", 0))

    @admin.display(description="invite link")
    def invite_link(self, obj: Campaign) -> str:
        root = getattr(obj, "site_root", None)
        return invite_link(obj, root) if root and obj.pk else "Shown once the campaign is saved."

    @admin.display(description="crowd-platform study link")
    def crowd_link(self, obj: Campaign) -> str:
        root = getattr(obj, "site_root", None)
        if not (root and obj.pk):
            return "Shown once the campaign is saved."
        if not obj.crowd_id_param:
            return "Set the participant id parameter (e.g. PROLIFIC_PID) to get a study link."
        return crowd_link(obj, root)

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if not change and isinstance(request.user, User):
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Open the selected campaigns to raters", permissions=["change"])
    def campaign_open(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        has_pairs = Exists(CampaignPair.objects.filter(campaign=OuterRef("pk"), kind=REGULAR))
        empty = list(queryset.exclude(has_pairs).values_list("name", flat=True))
        if empty:
            self.message_user(request, f"Not opened, no pairs yet (build them first): {', '.join(empty)}.",
                              messages.WARNING)
        opened = queryset.filter(has_pairs).exclude(status=Campaign.Status.OPEN).update(status=Campaign.Status.OPEN)
        self.message_user(request, f"{opened} campaign(s) opened.")

    @admin.action(description="Close the selected campaigns (raters can no longer take items)", permissions=["change"])
    def campaign_close(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        closed = queryset.exclude(status=Campaign.Status.CLOSED).update(status=Campaign.Status.CLOSED)
        self.message_user(request, f"{closed} campaign(s) closed; live leases lapse with their time.")


# ---------------------------------------------------------------------------------------------------------------
# Pairs and leases (read only: pair building and the raters write them)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GoldPairInline(admin.StackedInline):
    model = GoldPair
    fields = ("clean_clip", "damaged_clip", "damage")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CampaignPair)
class CampaignPairAdmin(ReadOnlyAdmin):
    list_display = ("id", "campaign", "kind", "prompt_id", "clip_a", "clip_b", "votes_done", "overlap", "position")
    list_filter = ("campaign", "kind")
    search_fields = ("prompt__text", "clip_a__public_id", "clip_b__public_id")
    list_select_related = ("campaign", "clip_a", "clip_b")
    inlines = (GoldPairInline,)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "pair_id", "kind", "status", "leased_at", "expires_at", "finished_at",
                    "gold_correct", "skip_reason")
    list_filter = ("status", "kind", "pair__campaign")
    search_fields = ("member__crowd_id", "member__rater__public_id", "skip_reason")
    list_select_related = ("member__campaign", "member__rater")


# ---------------------------------------------------------------------------------------------------------------
# Raters and quality


class FlagFilter(admin.SimpleListFilter):
    title = "flag"
    parameter_name = "flag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*Flag.choices, ("any", "Any flag")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CampaignRater]) -> QuerySet[CampaignRater]:
        value = self.value()
        if value == "any":
            return queryset.exclude(flags=[])
        if value in Flag.values:
            # Matched in the JSON's text, which works on SQLite (the embedded demo) as on PostgreSQL.
            return queryset.filter(flags__icontains=f'"{value}"')
        return queryset


class QualityDecisionInline(admin.TabularInline):
    model = QualityDecision
    fields = ("decided_at", "action", "reason", "decided_by")
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CampaignRater)
class CampaignRaterAdmin(admin.ModelAdmin):
    """Everything on this page is written by the raters' work and the quality rules; an admin's say is the
    override, given with the actions (recorded as a decision with the acting admin)."""

    list_display = ("__str__", "campaign", "votes", "skips", "gold_accuracy", "flag_list", "excluded", "override",
                    "completed_at")
    list_filter = ("campaign", "excluded", "override", FlagFilter)
    search_fields = ("crowd_id", "rater__public_id")
    list_select_related = ("campaign", "rater")
    inlines = (QualityDecisionInline,)
    actions = ("always_count", "always_leave_out", "automatic")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in CampaignRater._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="gold accuracy", ordering="gold_correct")
    def gold_accuracy(self, obj: CampaignRater) -> str:
        accuracy = obj.gold_accuracy
        return "–" if accuracy is None else f"{obj.gold_correct}/{obj.gold_answered} = {accuracy:.0%}"

    @admin.display(description="flags")
    def flag_list(self, obj: CampaignRater) -> str:
        return ", ".join(Flag(code).label if code in Flag.values else code for code in obj.flags) or "–"

    def _override(self, request: HttpRequest, queryset: QuerySet[CampaignRater], override: str) -> None:
        by = request.user if isinstance(request.user, User) else None
        for member in queryset:
            member_override(member=member, override=override, by=by, reason="admin action on the campaign raters")
        label = CampaignRater.Override(override).label
        self.message_user(request, f"{len(queryset)} rater(s) set to “{label}”; each decision is recorded.")

    @admin.action(description="Always count the selected raters", permissions=["change"])
    def always_count(self, request: HttpRequest, queryset: QuerySet[CampaignRater]) -> None:
        self._override(request, queryset, CampaignRater.Override.INCLUDE)

    @admin.action(description="Always leave out the selected raters", permissions=["change"])
    def always_leave_out(self, request: HttpRequest, queryset: QuerySet[CampaignRater]) -> None:
        self._override(request, queryset, CampaignRater.Override.EXCLUDE)

    @admin.action(description="Let the quality rules decide for the selected raters", permissions=["change"])
    def automatic(self, request: HttpRequest, queryset: QuerySet[CampaignRater]) -> None:
        self._override(request, queryset, CampaignRater.Override.NONE)


@admin.register(QualityDecision)
class QualityDecisionAdmin(ReadOnlyAdmin):
    list_display = ("decided_at", "member", "action", "reason", "decided_by")
    list_filter = ("action", "member__campaign")
    search_fields = ("reason", "member__crowd_id", "member__rater__public_id")
    list_select_related = ("member__campaign", "member__rater", "decided_by")


# ---------------------------------------------------------------------------------------------------------------
# Imported datasets (manage.py import_preferences makes them; an admin only decides whether they count in the arena)


@admin.register(ImportSource)
class ImportSourceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "format", "counts_in_arena", "vote_count", "created_at"]
    fields = ["slug", "name", "format", "counts_in_arena", "created_at"]
    readonly_fields = ["slug", "format", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its battles and votes would stay behind, counted on no board

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportSource]:
        return super().get_queryset(request).annotate(n_votes=Count("votes"))

    @admin.display(description="votes", ordering="n_votes")
    def vote_count(self, obj: ImportSource) -> int:
        return getattr(obj, "n_votes", 0)

    def save_model(self, request: HttpRequest, obj: ImportSource, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "counts_in_arena" in form.changed_data:  # the change itself is in the admin's log (LogEntry)
            leaderboards_request_recompute(scopes=[ARENA, *(f"{ARENA}:{view}" for view in (*AXES, *SUBSETS))])
            state = "now count" if obj.counts_in_arena else "no longer count"
            messages.info(request, f"The votes of {obj.slug} {state} on the arena's board; its recompute is queued.")
