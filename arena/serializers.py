"""Input and output shapes of the arena API; the output shapes are what the OpenAPI schema documents."""
from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from arena.models import Battle, Choice, Prompt, System
from arena.services.listening import EVENT_TYPES, SIDES, ListeningEvent
from core.axes import VOTE_AXES, choices

MAX_EVENTS_PER_BATCH = 500
MAX_POSITION_MS = 24 * 3600 * 1000
MAX_CLIENT_MS = 2**53  # Date.now() and performance.now() both fit
MAX_CLIENT_HINTS_CHARS = 4096
# A per-axis answer takes the same outcomes as the overall choice.
AXIS_OUTCOME_CHOICES = Choice.choices


# Inputs


class BattleEventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    side = serializers.ChoiceField(choices=SIDES)
    position_ms = serializers.IntegerField(min_value=0, max_value=MAX_POSITION_MS)
    client_ms = serializers.IntegerField(min_value=0, max_value=MAX_CLIENT_MS)

    def to_internal_value(self, data: Any) -> ListeningEvent:  # type: ignore[override]
        return ListeningEvent(**super().to_internal_value(data))


class BattleEventsInputSerializer(serializers.Serializer):
    events = serializers.ListField(child=BattleEventSerializer(), max_length=MAX_EVENTS_PER_BATCH)


class VoteInputSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=Choice.choices)
    musicality = serializers.ChoiceField(choices=AXIS_OUTCOME_CHOICES, required=False, allow_blank=True, default="")
    prompt_alignment = serializers.ChoiceField(choices=AXIS_OUTCOME_CHOICES, required=False, allow_blank=True, default="")
    lyrics_alignment = serializers.ChoiceField(
        choices=AXIS_OUTCOME_CHOICES,
        required=False,
        allow_blank=True,
        default="",
        help_text="Only for prompts with lyrics (the battle's `axes` lists it); refused otherwise.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    decision_ms = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1, allow_null=True)
    client_hints = serializers.DictField(required=False, default=dict)
    events = serializers.ListField(
        child=BattleEventSerializer(),
        max_length=MAX_EVENTS_PER_BATCH,
        required=False,
        default=list,
        help_text=(
            "Listening events not yet reported, as for `events/`: credited under the vote's lock just before the "
            "listening check, so the page needs no separate request to flush them. Ignored when the battle "
            "already has this vote."
        ),
    )
    next = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also start your next battle once the vote is stored, and answer it as `next_battle`.",
    )

    def validate_client_hints(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_CLIENT_HINTS_CHARS:
            raise serializers.ValidationError(f"at most {MAX_CLIENT_HINTS_CHARS} characters of JSON")
        return value


# Outputs


class BattlePromptSerializer(serializers.Serializer):
    text = serializers.CharField()
    lyrics = serializers.CharField(help_text="Empty when the prompt has no lyrics.")
    reference_audio_url = serializers.URLField(allow_null=True)


class BattleClipSerializer(serializers.Serializer):
    audio_url = serializers.URLField(help_text="Per-battle URL; says nothing about the clip or its system.")


class BattleClipsSerializer(serializers.Serializer):
    a = BattleClipSerializer()
    b = BattleClipSerializer()


class SidesMsSerializer(serializers.Serializer):
    a = serializers.IntegerField()
    b = serializers.IntegerField()


class SuggestionSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=SIDES)
    p = serializers.FloatField(allow_null=True, help_text="The reward model's P(this side is preferred).")
    text = serializers.CharField(help_text="What the page shows, e.g. 'The model expects A (p = 0.80)'.")


class BattleOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Battle.Status.values)
    prompt = BattlePromptSerializer()
    clips = BattleClipsSerializer()
    min_listen_ms = SidesMsSerializer(
        help_text="Milliseconds of each clip to play before a vote is taken: "
        "min(EARSHOT_MIN_LISTEN_SECONDS, clip duration)."
    )
    expires_at = serializers.DateTimeField()
    axes = serializers.ListField(
        child=serializers.ChoiceField(choices=choices(VOTE_AXES)),
        help_text="The per-axis questions of this battle; lyrics_alignment only where the prompt has lyrics.",
    )
    suggestion = SuggestionSerializer(allow_null=True)


class BattleEventsOutputSerializer(serializers.Serializer):
    ms_played = SidesMsSerializer()


class RevealedSystemSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    rating = serializers.FloatField(allow_null=True, help_text="Arena rating (Elo scale); null before any.")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)


class RevealedSystemsSerializer(serializers.Serializer):
    a = RevealedSystemSerializer()
    b = RevealedSystemSerializer()


class VoteOutputSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=Choice.choices)
    systems = RevealedSystemsSerializer()
    next_battle = BattleOutputSerializer(
        required=False,
        allow_null=True,
        help_text="Only when the vote asked for `next`: the rater's next battle, or null when no pair is left.",
    )


class SystemOutputSerializer(serializers.ModelSerializer):
    clip_count = serializers.IntegerField(help_text="Active clips of the system.")

    class Meta:
        model = System
        fields = ["id", "name", "slug", "organisation", "description", "active", "clip_count"]


class PromptOutputSerializer(serializers.ModelSerializer):
    has_lyrics = serializers.BooleanField()
    has_reference_audio = serializers.SerializerMethodField()
    clip_count = serializers.IntegerField(help_text="Active clips of active systems for the prompt.")

    class Meta:
        model = Prompt
        fields = ["id", "text", "lyrics", "has_lyrics", "has_reference_audio", "tags", "language", "source",
                  "clip_count"]

    def get_has_reference_audio(self, prompt: Prompt) -> bool:
        return bool(prompt.reference_audio)
