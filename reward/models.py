"""Reward-model versions, the scores they gave clips, and agreement reports.

The tables kept the names they had when these models lived in the scoring app (see migration 0001).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q


class RewardModelVersion(models.Model):
    """One trained reward model on disk; exactly one may be active."""

    name = models.CharField(max_length=120, unique=True)
    class_path = models.CharField(max_length=255)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_reward_model"),
        ]

    def __str__(self) -> str:
        return self.name + (" (active)" if self.active else "")


class ClipScore(models.Model):
    """The score one reward-model version gave one clip on one axis."""

    version = models.ForeignKey(RewardModelVersion, on_delete=models.CASCADE, related_name="scores")
    clip = models.ForeignKey("arena.Clip", on_delete=models.CASCADE, related_name="scores")
    axis = models.CharField(max_length=40)
    score = models.FloatField()
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "clip", "axis"], name="one_score_per_version_clip_axis"),
        ]

    def __str__(self) -> str:
        return f"{self.clip_id} {self.axis} = {self.score:.3f}"


class AgreementReport(models.Model):
    """Model-vs-people and people-vs-people agreement figures, computed by Celery."""

    version = models.ForeignKey(RewardModelVersion, on_delete=models.CASCADE, related_name="agreement_reports")
    scope = models.CharField(max_length=100, default="arena")
    figures = models.JSONField(default=dict)
    vote_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"agreement {self.version} {self.scope} @ {self.computed_at:%Y-%m-%d %H:%M}"
