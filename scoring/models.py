"""Leaderboard snapshots and their recompute state."""
from __future__ import annotations

from django.db import models

# A scope's plain board and, where the scope asks for it, its reliability-weighted (Crowd-BT) board.
PLAIN_METHOD = "bradley_terry"
CROWD_METHOD = "crowd_bt"
METHODS = (PLAIN_METHOD, CROWD_METHOD)


class LeaderboardSnapshot(models.Model):
    """Ratings of one scope at one moment; the newest snapshot of a scope is the current leaderboard."""

    scope = models.CharField(max_length=100, db_index=True)
    method = models.CharField(max_length=40, default="bradley_terry")
    rows = models.JSONField(default=list)
    win_rate = models.JSONField(default=dict)
    extra = models.JSONField(default=dict, blank=True)
    # Fingerprint of the votes, systems and settings the snapshot was computed from: an unchanged digest means an
    # unchanged leaderboard, so a recompute that finds it on the current snapshot writes nothing.
    digest = models.CharField(max_length=64)
    vote_count = models.PositiveIntegerField(default=0)
    last_vote_id = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["scope", "-computed_at"])]

    def __str__(self) -> str:
        return f"{self.scope} @ {self.computed_at:%Y-%m-%d %H:%M:%S} ({self.vote_count} votes)"


class ScopeRecompute(models.Model):
    """Single-flight state of one scope's recompute, claimed with a conditional UPDATE (whether a recompute waits
    in the queue is a mark in the cache: votes never write here)."""

    scope = models.CharField(max_length=100, unique=True)
    running_since = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.scope
