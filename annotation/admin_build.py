"""The campaign admin's "Build pairs…" action: a form of the build's options, then the build queued as a Celery task
(annotation.tasks.campaign_build, by name: gold items make audio with torch, which web code never imports).
annotation.admin lists `build_pairs` among the Campaign admin's actions."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from annotation.models import Campaign
from arena.models import System
from core.oncommit import enqueue_on_commit, task_by_name

BUILD_TASK = "annotation.tasks.campaign_build"
# The same values as annotation.pairs.DESIGNS and RANKS (that module imports torch; a test keeps them equal).
DESIGN_CHOICES = [("all", "All pairs: every system pair of every prompt"),
                  ("balanced", "Balanced: each system pair equally often, N per prompt")]
RANK_CHOICES = [("none", "No ranking"), ("reward", "Least certain pairs first (active reward model)")]


class BuildPairsForm(forms.Form):
    prompt_ids = forms.CharField(
        required=False, label="Prompt ids",
        help_text="Comma- or space-separated prompt ids; leave empty and tick 'all prompts' for every prompt.",
    )
    all_prompts = forms.BooleanField(required=False, label="All prompts (that have active clips)")
    systems = forms.ModelMultipleChoiceField(
        queryset=System.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every system.",
    )
    design = forms.ChoiceField(choices=DESIGN_CHOICES, initial="all")
    pairs_per_prompt = forms.IntegerField(required=False, min_value=1, help_text="Balanced design only.")
    rank = forms.ChoiceField(choices=RANK_CHOICES, initial="none")
    top_k = forms.IntegerField(required=False, min_value=2,
                               help_text="Per prompt, keep the k systems the reward model scores highest.")
    gold = forms.IntegerField(min_value=0, initial=0, help_text="Gold items the campaign should have in all.")
    practice = forms.IntegerField(min_value=0, initial=0, help_text="Practice items the campaign should have.")

    def clean_prompt_ids(self) -> list[int]:
        parts = self.cleaned_data["prompt_ids"].replace(",", " ").split()
        bad = [part for part in parts if not part.isdigit()]
        if bad:
            raise forms.ValidationError(f"not prompt ids: {', '.join(bad[:5])}")
        return [int(part) for part in parts]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("prompt_ids") and not data.get("all_prompts"):
            self.add_error(None, "Give prompt ids or tick 'all prompts'.")
        if data.get("prompt_ids") and data.get("all_prompts"):
            self.add_error(None, "Give prompt ids or tick 'all prompts', not both.")
        if data.get("design") == "balanced" and not data.get("pairs_per_prompt"):
            self.add_error("pairs_per_prompt", "The balanced design needs pairs per prompt.")
        if data.get("design") == "all" and data.get("pairs_per_prompt"):
            self.add_error("pairs_per_prompt", "Pairs per prompt applies to the balanced design only.")
        return data

    def build_options(self) -> dict[str, Any]:
        """The task's keyword arguments (JSON: ids and plain values)."""
        data = self.cleaned_data
        systems = list(data["systems"])
        return {
            "prompt_ids": None if data["all_prompts"] else data["prompt_ids"],
            "system_keys": [system.slug for system in systems] or None,
            "design": data["design"],
            "pairs_per_prompt": data["pairs_per_prompt"],
            "rank": data["rank"],
            "top_k": data["top_k"],
            "gold": data["gold"],
            "practice": data["practice"],
        }


@admin.action(description="Build pairs…")
def build_pairs(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Campaign]
) -> TemplateResponse | None:
    """Show the build form; on its submission queue one build per selected campaign and say so."""
    form = BuildPairsForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        options = form.build_options()
        for campaign in queryset:
            enqueue_on_commit(task_by_name(BUILD_TASK), campaign_id=campaign.pk, options=options)
        names = ", ".join(campaign.name for campaign in queryset)
        modeladmin.message_user(
            request, f"Build queued for {names}: the pairs appear as the worker makes them.", level=messages.SUCCESS
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Build pairs",
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "form": form,
        "action_name": "build_pairs",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "annotation/admin_build.html", context)
