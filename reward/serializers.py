"""Output serializers of the reward model's API: versions, per-prompt rankings, agreement reports."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.axes import MODEL_AXES, Axis, choices
from reward.models import RewardModelVersion
from reward.selectors import version_progress, version_score_count


class RewardModelVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()
    clips_scored = serializers.SerializerMethodField()
    training = serializers.SerializerMethodField(help_text="Training progress: status, step, done, total, figures.")
    rescore = serializers.SerializerMethodField(help_text="Rescoring progress after activation: status, done, total.")
    held_out = serializers.SerializerMethodField(
        help_text="Per axis: accuracy and log-loss on votes held out by prompt."
    )

    def get_clips_scored(self, obj: RewardModelVersion) -> int:
        return version_score_count(version=obj)

    def get_training(self, obj: RewardModelVersion) -> dict[str, Any]:
        return version_progress(version=obj, kind="training")

    def get_rescore(self, obj: RewardModelVersion) -> dict[str, Any]:
        return version_progress(version=obj, kind="rescore")

    def get_held_out(self, obj: RewardModelVersion) -> dict[str, Any]:
        held_out = (obj.metrics or {}).get("held_out")
        return held_out if isinstance(held_out, dict) else {}


class RankedClipSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    clip_public_id = serializers.CharField()
    system_id = serializers.IntegerField()
    system_name = serializers.CharField()
    score = serializers.FloatField(help_text="The model's score on the ranking axis; compare within a prompt only.")
    scores = serializers.DictField(child=serializers.FloatField(), help_text="Scores on every axis of the model.")
    p_beats_next = serializers.FloatField(
        allow_null=True, help_text="P(this clip is preferred to the next one down) = sigmoid(score difference)."
    )


class PromptRankingSerializer(serializers.Serializer):
    prompt_id = serializers.IntegerField()
    prompt_text = serializers.CharField()
    axis = serializers.CharField()
    version_name = serializers.CharField()
    clips = RankedClipSerializer(many=True)
    unscored_clips = serializers.IntegerField()


class RankingQuerySerializer(serializers.Serializer):
    axis = serializers.ChoiceField(
        choices=choices(MODEL_AXES), required=False, default=Axis.OVERALL.value
    )


class AgreementReportSerializer(serializers.Serializer):
    version = serializers.CharField(source="version.name")
    scope = serializers.CharField()
    vote_count = serializers.IntegerField()
    computed_at = serializers.DateTimeField()
    figures = serializers.JSONField(
        help_text="Per axis: model agreement (accuracy without and with ties, AUC, calibration), baselines, "
        "per-system figures, the people-vs-people ceiling, rank correlations; and the anchoring effect. Every "
        "figure has value, low, high (95%) and n."
    )
