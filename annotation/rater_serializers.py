"""Input and output shapes of the campaign rater API (the output serializers build the answers and the schema)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation.membership import completion_redirect_url, markdown_safe
from annotation.models import Campaign, CampaignRater
from arena.serializers import BattleOutputSerializer

# Why a rater skips an item: the value is stored with the free text in Assignment.skip_reason.
SKIP_REASONS = [
    ("audio_problem", "A clip does not play or sounds broken"),
    ("cannot_judge", "I cannot judge this pair"),
    ("unsuitable", "The content is offensive or unsuitable"),
    ("other", "Another reason"),
]
ITEM_KINDS = [("practice", "Practice (counted nowhere)"), ("item", "An item of the study")]


class JoinInputSerializer(serializers.Serializer):
    invite = serializers.CharField(required=False, allow_blank=True, default="", max_length=200,
                                   help_text="The invite token of the campaign's link (`?invite=`).")
    crowd_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200,
                                     help_text="The crowd platform's participant id (e.g. Prolific's PROLIFIC_PID).")
    crowd_study = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    crowd_session = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class SkipInputSerializer(serializers.Serializer):
    battle = serializers.UUIDField(help_text="The id of the item's battle (from /next/).")
    reason = serializers.ChoiceField(choices=SKIP_REASONS)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=150,
                                 help_text="Free text (optional).")


class MemberOutputSerializer(serializers.Serializer):
    """The rater's standing in the campaign and what the campaign tells raters."""

    campaign = serializers.CharField(source="campaign.slug")
    name = serializers.CharField(source="campaign.name")
    instructions_html = serializers.SerializerMethodField(help_text="Markdown rendered and sanitised.")
    consent_html = serializers.SerializerMethodField(help_text="Markdown rendered and sanitised.")
    consented = serializers.SerializerMethodField()
    completed = serializers.SerializerMethodField()
    practice_items = serializers.IntegerField(source="campaign.practice_items")

    def get_instructions_html(self, member: CampaignRater) -> str:
        return markdown_safe(member.campaign.instructions)

    def get_consent_html(self, member: CampaignRater) -> str:
        return markdown_safe(member.campaign.consent)

    def get_consented(self, member: CampaignRater) -> bool:
        return member.consented_at is not None

    def get_completed(self, member: CampaignRater) -> bool:
        return member.completed_at is not None


class ProgressSerializer(serializers.Serializer):
    practice = serializers.BooleanField(help_text="A practice item (counted nowhere).")
    number = serializers.IntegerField(help_text="This item's number (practice items have their own count).")
    about = serializers.IntegerField(help_text="About how many items there are in all (an estimate).")


class CompletionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The campaign's completion code.")
    redirect_url = serializers.URLField(
        allow_null=True, help_text="The completion URL with the code (null when the campaign has none)."
    )


class NextItemOutputSerializer(serializers.Serializer):
    """The rater's current item (the battle to listen to and vote on through the arena's own endpoints), or done."""

    # The instance is a mapping: done, kind, battle, progress, completion (a Campaign or None).

    done = serializers.BooleanField(help_text="Nothing is left for this rater: `completion` holds the code.")
    kind = serializers.ChoiceField(choices=ITEM_KINDS, allow_null=True,
                                   help_text="`practice` or `item` (a gold check is an item like any other).")
    battle = BattleOutputSerializer(
        allow_null=True, help_text="The arena's battle body; its `axes` are the campaign's (lyrics alignment only "
        "where the prompt has lyrics)."
    )
    progress = ProgressSerializer(allow_null=True)
    completion = serializers.SerializerMethodField()

    @extend_schema_field(CompletionSerializer(allow_null=True))
    def get_completion(self, instance: dict[str, Any]) -> dict[str, Any] | None:
        campaign: Campaign | None = instance["completion"]
        if campaign is None:
            return None
        return {"code": campaign.completion_code, "redirect_url": completion_redirect_url(campaign)}
