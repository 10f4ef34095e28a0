"""Input and output shapes of the arena API: the output serializers build the answers and the OpenAPI schema."""
from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arena import selectors
from arena.models import Battle, Choice, Prompt, System
from arena.services.listening import EVENT_TYPES, SIDES, ListeningEvent
from core.axes import VOTE_AXES, choices

MAX_EVENTS_PER_BATCH = 500
MAX_POSITION_MS = 24 * 3600 * 1000
MAX_CLIENT_MS = 2**53  # Date.now() and performance.now() both fit
MAX_CLIENT_HINTS_CHARS = 4096
# A per-axis answer takes the same outcomes as the overall choice.
OUTCOME_CHOICES = Choice.choices


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
    musicality = serializers.ChoiceField(choices=OUTCOME_CHOICES, required=False, allow_blank=True, default="")
    prompt_alignment = serializers.ChoiceField(choices=OUTCOME_CHOICES, required=False, allow_blank=True, default="")
    lyrics_alignment = serializers.ChoiceField(
        choices=OUTCOME_CHOICES,
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


_OUTCOMES = frozenset(Choice.values)
_EVENT_TYPES = frozenset(EVENT_TYPES)
_SIDES = frozenset(SIDES)
_EVENT_KEYS = frozenset(("type", "side", "position_ms", "client_ms"))
_AXIS_KEYS = ("musicality", "prompt_alignment", "lyrics_alignment")
_VOTE_KEYS = frozenset(("choice", *_AXIS_KEYS, "decision_ms", "events", "next"))


def _exact_int(value: Any, most: int) -> bool:
    return type(value) is int and 0 <= value <= most


def _one_of(value: Any, allowed: frozenset[str]) -> bool:
    return type(value) is str and value in allowed


def vote_input_plain(data: Any) -> dict[str, Any] | None:
    """VoteInputSerializer's validated_data for the vote the arena page sends, checked without DRF (its fields are
    deep-copied per request, which cost the vote more CPU than its SQL); None for anything else (a reason, client
    hints, a field of another type, an unknown key): the serializer then checks it and words any error.
    tests/arena/test_answers.py checks that both agree."""
    if type(data) is not dict or not _VOTE_KEYS.issuperset(data) or not _one_of(data.get("choice"), _OUTCOMES):
        return None
    answers: dict[str, Any] = {"choice": data["choice"], "reason": "", "client_hints": {}}
    for name in _AXIS_KEYS:
        value = data.get(name, "")
        if value != "" and not _one_of(value, _OUTCOMES):
            return None
        answers[name] = value
    if "decision_ms" in data:
        if data["decision_ms"] is not None and not _exact_int(data["decision_ms"], 2**31 - 1):
            return None
        answers["decision_ms"] = data["decision_ms"]
    raw_events = data.get("events", [])
    if type(raw_events) is not list or len(raw_events) > MAX_EVENTS_PER_BATCH:
        return None
    events = []
    for event in raw_events:
        if (type(event) is not dict or event.keys() != _EVENT_KEYS or not _one_of(event["type"], _EVENT_TYPES)
                or not _one_of(event["side"], _SIDES) or not _exact_int(event["position_ms"], MAX_POSITION_MS)
                or not _exact_int(event["client_ms"], MAX_CLIENT_MS)):
            return None
        events.append(ListeningEvent(event["type"], event["side"], event["position_ms"], event["client_ms"]))
    answers["events"] = events
    wants_next = data.get("next", False)
    if type(wants_next) is not bool:
        return None
    answers["next"] = wants_next
    return answers


# Outputs


def _battle_audio_url(serializer: serializers.Field, battle: Battle, side: str) -> str:
    """The absolute per-battle URL of one side's audio (or the reference), for the request in the context."""
    path = reverse("arena:battle-audio", kwargs={"battle_id": battle.public_id, "side": side})
    return serializer.context["request"].build_absolute_uri(path)


class BattlePromptSerializer(serializers.Serializer):
    # The instance is the battle: the reference audio has a per-battle URL.

    text = serializers.CharField(source="prompt.text")
    lyrics = serializers.CharField(source="prompt.lyrics", help_text="Empty when the prompt has no lyrics.")
    reference_audio_url = serializers.SerializerMethodField(allow_null=True)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_reference_audio_url(self, battle: Battle) -> str | None:
        return _battle_audio_url(self, battle, "reference") if battle.prompt.reference_audio else None


class BattleClipSerializer(serializers.Serializer):
    # The instance is the battle; `side` says which clip.

    audio_url = serializers.SerializerMethodField(
        help_text="Per-battle URL; says nothing about the clip or its system."
    )

    def __init__(self, *args: Any, side: str = "a", **kwargs: Any) -> None:
        self.side = side
        super().__init__(*args, **kwargs)

    @extend_schema_field(OpenApiTypes.URI)
    def get_audio_url(self, battle: Battle) -> str:
        return _battle_audio_url(self, battle, self.side)


class BattleClipsSerializer(serializers.Serializer):
    a = BattleClipSerializer(source="*", side="a")
    b = BattleClipSerializer(source="*", side="b")


class SidesMsSerializer(serializers.Serializer):
    a = serializers.IntegerField()
    b = serializers.IntegerField()


class SuggestionSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=SIDES)
    p = serializers.FloatField(allow_null=True, help_text="The reward model's P(this side is preferred).")
    text = serializers.CharField(help_text="What the page shows, e.g. 'The model expects A (p = 0.80)'.")


class BattleOutputSerializer(serializers.Serializer):
    """A battle as its rater sees it: nothing in it names a clip or a system."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.SerializerMethodField()
    prompt = BattlePromptSerializer(source="*")
    clips = BattleClipsSerializer(source="*")
    min_listen_ms = serializers.SerializerMethodField(
        help_text="Milliseconds of each clip to play before a vote is taken: "
        "min(EARSHOT_MIN_LISTEN_SECONDS, clip duration)."
    )
    expires_at = serializers.DateTimeField()
    axes = serializers.SerializerMethodField(
        help_text="The per-axis questions of this battle; lyrics_alignment only where the prompt has lyrics."
    )
    suggestion = serializers.SerializerMethodField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=Battle.Status.values))
    def get_status(self, battle: Battle) -> str:
        """An open battle past its expiry reads as expired before the sweep closes it."""
        if battle.status == Battle.Status.OPEN and battle.expires_at <= timezone.now():
            return Battle.Status.EXPIRED.value
        return str(battle.status)

    @extend_schema_field(SidesMsSerializer)
    def get_min_listen_ms(self, battle: Battle) -> dict[str, int]:
        return selectors.listening_required_ms(battle=battle)

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=choices(VOTE_AXES))))
    def get_axes(self, battle: Battle) -> list[str]:
        axes = selectors.battle_axes(battle=battle)
        asked = self.context.get("axes")  # a caller that asks only some of them (a campaign's axes)
        return axes if asked is None else [axis for axis in axes if axis in asked]

    @extend_schema_field(SuggestionSerializer)
    def get_suggestion(self, battle: Battle) -> dict[str, Any] | None:
        return selectors.suggestion_public(
            shown=battle.suggestion_shown, side=battle.suggestion_side, p=battle.suggestion_p
        )


class PlayedMsSerializer(serializers.Serializer):
    a = serializers.IntegerField(source="ms_played_a")
    b = serializers.IntegerField(source="ms_played_b")


class BattleEventsOutputSerializer(serializers.Serializer):
    # The instance is the battle.

    ms_played = PlayedMsSerializer(source="*")


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
    """The vote's choice, the systems revealed, and the next battle when the vote asked for one."""

    # The instance is a mapping with `choice`, `systems` and, only when the vote asked for `next`, `next_battle`
    # (a Battle, or None when no pair is left): without that key the answer has no `next_battle`.

    choice = serializers.ChoiceField(choices=Choice.choices)
    systems = RevealedSystemsSerializer(
        allow_null=True, help_text="Which systems made A and B; null where the battle keeps them hidden (campaigns)."
    )
    next_battle = BattleOutputSerializer(
        required=False,
        allow_null=True,
        help_text="Only when the vote asked for `next`: the rater's next battle, or null when no pair is left.",
    )

    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        data = super().to_representation(instance)
        if "next_battle" not in instance:
            del data["next_battle"]
        return data


# The vote's answer built by hand: DRF serializers deep-copy their fields on every instantiation, which cost the vote
# more CPU than its SQL (NOTES.md, "A lean vote path"). The serializers above still document the answers (OpenAPI)
# and tests/arena/test_answers.py checks that both build the same JSON.

_DATETIME = serializers.DateTimeField()


def battle_answer(battle: Battle, *, request: HttpRequest, axes: Collection[str] | None = None) -> dict[str, Any]:
    """What BattleOutputSerializer(battle, context={"request": request, "axes": axes}).data holds."""

    def audio_url(side: str) -> str:
        return request.build_absolute_uri(reverse("arena:battle-audio", kwargs={"battle_id": battle.public_id,
                                                                                 "side": side}))

    prompt = battle.prompt
    status = str(battle.status)
    if battle.status == Battle.Status.OPEN and battle.expires_at <= timezone.now():
        status = Battle.Status.EXPIRED.value
    shown_axes = selectors.battle_axes(battle=battle)
    return {
        "id": str(battle.public_id),
        "status": status,
        "prompt": {
            "text": str(prompt.text),
            "lyrics": str(prompt.lyrics),
            "reference_audio_url": audio_url("reference") if prompt.reference_audio else None,
        },
        "clips": {"a": {"audio_url": audio_url("a")}, "b": {"audio_url": audio_url("b")}},
        "min_listen_ms": selectors.listening_required_ms(battle=battle),
        "expires_at": _DATETIME.to_representation(battle.expires_at),
        "axes": shown_axes if axes is None else [axis for axis in shown_axes if axis in axes],
        "suggestion": selectors.suggestion_public(
            shown=battle.suggestion_shown, side=battle.suggestion_side, p=battle.suggestion_p
        ),
    }


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def vote_answer(answer: Mapping[str, Any], *, request: HttpRequest) -> dict[str, Any]:
    """What VoteOutputSerializer(answer, context={"request": request}).data holds."""
    systems = answer["systems"]
    data: dict[str, Any] = {
        "choice": str(answer["choice"]),
        "systems": None if systems is None else {
            side: {
                "name": str(system["name"]),
                "slug": str(system["slug"]),
                **{name: _float_or_none(system[name]) for name in ("rating", "ci_low", "ci_high")},
            }
            for side, system in systems.items()
        },
    }
    if "next_battle" in answer:
        following = answer["next_battle"]
        data["next_battle"] = None if following is None else battle_answer(following, request=request)
    return data


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
