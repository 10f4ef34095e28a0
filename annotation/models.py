"""Campaigns: a closed listening study over a fixed set of pairs, its raters, leases and quality (DESIGN.md flow 5).

A campaign's items are `CampaignPair`s (two clips of one prompt). Regular pairs want `overlap` finished votes each;
gold pairs (a clean clip against a heavily damaged copy of itself, `GoldPair`) check raters and never count on a
board; practice pairs come first and count nowhere. A rater works as a `CampaignRater` (one per campaign and arena
rater) and holds at most one `Assignment` at a time: a lease on a pair with its own arena battle, mode "campaign".
"""
from __future__ import annotations

import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from arena.models import Battle, Clip, Prompt, Rater, Vote
from core.axes import AXES, Axis


def invite_token() -> str:
    return secrets.token_urlsafe(16)


def completion_code() -> str:
    return secrets.token_hex(4).upper()


def default_axes() -> list[str]:
    return [Axis.OVERALL.value]


class Campaign(models.Model):
    """One listening study: what raters are asked, how often each pair is judged, and how raters are checked."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (being built)"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(
        max_length=64, unique=True, help_text="The campaign's address: /c/ followed by the slug, as in /c/pilot-study/."
    )
    instructions = models.TextField(blank=True, help_text="Markdown; rendered and sanitised on the rater's page.")
    consent = models.TextField(blank=True, help_text="Markdown; raters agree to it before their first item.")
    axes = models.JSONField(
        default=default_axes,
        help_text="Axes asked: overall, musicality, prompt_alignment, lyrics_alignment (overall is always asked).",
    )
    overlap = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="k: finished votes wanted per pair.",
    )
    gold_rate = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of items that are gold pairs (0 to 0.5).",
    )
    gold_threshold = models.FloatField(
        default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Gold accuracy below which a rater is flagged and left out.",
    )
    gold_min_answers = models.PositiveSmallIntegerField(
        default=3, help_text="Gold answers a rater gives before the threshold applies."
    )
    fast_decision_seconds = models.FloatField(
        default=3.0, validators=[MinValueValidator(0.0)],
        help_text="A decision faster than this (after the listening) is flagged as too fast.",
    )
    min_listen_seconds = models.FloatField(
        default=5.0, validators=[MinValueValidator(0.0), MaxValueValidator(600.0)],
        help_text="Listening each clip needs before a vote (checked on the server), or the whole clip if shorter.",
    )
    lease_minutes = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="How long a rater holds an item; then it returns to the pool.",
    )
    practice_items = models.PositiveSmallIntegerField(
        default=0, help_text="Practice pairs shown first (not counted anywhere)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    reveal_systems = models.BooleanField(default=False, help_text="Show which systems made the clips after a vote.")
    invite_token = models.CharField(
        max_length=64, unique=True, default=invite_token, help_text="The secret in the invite link."
    )
    # Crowd platform (e.g. Prolific): the participant id and study/session ids come in the URL's query string.
    crowd_id_param = models.CharField(
        max_length=40, blank=True, help_text="Query parameter holding the participant id, e.g. PROLIFIC_PID."
    )
    crowd_study_param = models.CharField(max_length=40, blank=True, help_text="e.g. STUDY_ID.")
    crowd_session_param = models.CharField(max_length=40, blank=True, help_text="e.g. SESSION_ID.")
    completion_code = models.CharField(
        max_length=64, default=completion_code, help_text="Shown (and sent in the redirect) when a rater is done."
    )
    completion_url = models.URLField(
        blank=True, help_text="Where a finished rater is sent, e.g. https://app.prolific.com/submissions/complete?cc="
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=0.5), name="campaign_gold_rate"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """What the admin form checks beyond each field: the axes asked, the crowd parameters together, and a web
        address to send finished raters to."""
        errors: dict[str, str] = {}
        known = [axis.value for axis in AXES]
        if not isinstance(self.axes, list) or not all(isinstance(axis, str) for axis in self.axes):
            errors["axes"] = f"Give a list of axes among {', '.join(known)}."
        else:
            unknown = [axis for axis in self.axes if axis not in known]
            if unknown:
                errors["axes"] = f"Unknown axes {', '.join(unknown)}: choose among {', '.join(known)}."
            elif Axis.OVERALL.value not in self.axes:
                errors["axes"] = "The overall question is always asked: add \"overall\" to the axes."
            elif len(set(self.axes)) != len(self.axes):
                errors["axes"] = "Each axis once."
        if (self.crowd_study_param or self.crowd_session_param) and not self.crowd_id_param:
            errors["crowd_id_param"] = (
                "The study and session parameters come with a participant id parameter (e.g. PROLIFIC_PID)."
            )
        if self.completion_url and urlsplit(self.completion_url).scheme not in ("http", "https"):
            errors["completion_url"] = "The completion address must start with http:// or https://."
        if self.completion_url and not self.completion_code:
            errors["completion_code"] = "A completion address needs the completion code it reports."
        if errors:
            raise ValidationError(errors)

    @property
    def scope(self) -> str:
        """The campaign's leaderboard scope (scoring)."""
        return f"campaign:{self.slug}"


class CampaignPair(models.Model):
    """Two clips of one prompt that raters of the campaign compare; `votes_done` never exceeds `overlap`."""

    class Kind(models.TextChoices):
        REGULAR = "regular", "Regular"
        GOLD = "gold", "Gold"
        PRACTICE = "practice", "Practice"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pairs")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="+")
    clip_a = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="+")
    clip_b = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REGULAR)
    # Copied from the campaign when the pair is made, so the database itself refuses a (k+1)-th vote.
    overlap = models.PositiveSmallIntegerField()
    votes_done = models.PositiveSmallIntegerField(default=0)
    position = models.IntegerField(default=0, help_text="Order in the pool (e.g. from a reward model's ranking).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "position", "id"]
        indexes = [models.Index(fields=["campaign", "kind", "votes_done"])]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "clip_a", "clip_b"], name="campaign_pair_unique"),
            models.CheckConstraint(condition=~Q(clip_a=F("clip_b")), name="campaign_pair_two_clips"),
            models.CheckConstraint(condition=Q(votes_done__lte=F("overlap")), name="campaign_pair_at_most_k_votes"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign.slug} #{self.pk} ({self.kind})"


class GoldPair(models.Model):
    """What makes a pair gold: which side is right, and how the wrong side was damaged (never shown to raters)."""

    pair = models.OneToOneField(CampaignPair, on_delete=models.CASCADE, related_name="gold")
    clean_clip = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="+")
    damaged_clip = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="+")
    damage = models.CharField(max_length=200, help_text="How the damaged copy was made.")

    def __str__(self) -> str:
        return f"gold {self.pair_id}: {self.damage}"

    def correct_side(self, battle: Battle) -> str:
        """The side ('a' or 'b') of the battle that holds the clean clip."""
        return "a" if battle.clip_a_id == self.clean_clip_id else "b"


class CampaignRater(models.Model):
    """A rater's membership of a campaign: how they joined, consent, progress and quality."""

    class Override(models.TextChoices):
        NONE = "", "Automatic"
        INCLUDE = "include", "Always counted (admin)"
        EXCLUDE = "exclude", "Always left out (admin)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="campaigns")
    crowd_id = models.CharField(max_length=200, blank=True, help_text="Participant id from the crowd platform.")
    crowd_study = models.CharField(max_length=200, blank=True)
    crowd_session = models.CharField(max_length=200, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    practice_done = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    votes = models.PositiveIntegerField(default=0, help_text="Finished regular items.")
    skips = models.PositiveIntegerField(default=0)
    gold_answered = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    fast_decisions = models.PositiveIntegerField(default=0)
    side_a = models.PositiveIntegerField(default=0, help_text="Regular decisions for side A.")
    side_b = models.PositiveIntegerField(default=0, help_text="Regular decisions for side B.")
    flags = models.JSONField(default=list, blank=True, help_text="Current quality flags (codes).")
    override = models.CharField(max_length=16, choices=Override.choices, blank=True, default=Override.NONE)
    excluded = models.BooleanField(
        default=False, help_text="Left out of the campaign's boards and exports (flags and override decide)."
    )

    class Meta:
        ordering = ["campaign", "joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "rater"], name="campaign_rater_unique"),
            models.UniqueConstraint(
                fields=["campaign", "crowd_id"], condition=~Q(crowd_id=""), name="campaign_crowd_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "excluded"])]

    def __str__(self) -> str:
        return f"{self.campaign.slug} · {self.crowd_id or self.rater.public_id}"

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answered if self.gold_answered else None


class Assignment(models.Model):
    """A lease of one pair to one campaign rater, with the arena battle the rater listens and votes in."""

    class Status(models.TextChoices):
        LEASED = "leased", "Leased"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    pair = models.ForeignKey(CampaignPair, on_delete=models.CASCADE, related_name="assignments")
    member = models.ForeignKey(CampaignRater, on_delete=models.CASCADE, related_name="assignments")
    battle = models.OneToOneField(Battle, on_delete=models.CASCADE, related_name="campaign_assignment")
    kind = models.CharField(max_length=16, choices=CampaignPair.Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=200, blank=True)
    gold_correct = models.BooleanField(null=True, blank=True, help_text="For gold items: whether the answer was right.")

    class Meta:
        ordering = ["-leased_at", "-id"]
        constraints = [
            # A rater never gets the same pair twice, whatever happened to the first lease.
            models.UniqueConstraint(fields=["pair", "member"], name="assignment_pair_once_per_rater"),
            # At most one live lease per campaign rater.
            models.UniqueConstraint(
                fields=["member"], condition=Q(status="leased"), name="assignment_one_lease_per_rater"
            ),
        ]
        indexes = [models.Index(fields=["pair", "status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.member} → pair {self.pair_id} ({self.status})"


class QualityDecision(models.Model):
    """Each change of a campaign rater's standing, with its reason: flags raised, exclusion, an admin's override."""

    member = models.ForeignKey(CampaignRater, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(max_length=32, help_text="flagged, excluded, included, override_include, ...")
    reason = models.TextField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member}: {self.action}"


class DatasetExport(models.Model):
    """One preference export: what was asked (the spec), how far the worker got, and the files it wrote.

    The files live under EARSHOT_EXPORT_ROOT/<public_id>/ (outside MEDIA_ROOT: only admins download them, through
    the API). A failed export keeps its reason and leaves no folder behind.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        RELEASE = "release", "Public release"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EXPORT)
    spec = models.JSONField(help_text="The export's settings (sources, shape, formats, filters, privacy).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.BigIntegerField(default=0, help_text="Votes read so far.")
    rows_total = models.BigIntegerField(default=0, help_text="Votes to read (known once the worker starts).")
    rows_written = models.BigIntegerField(default=0)
    files = models.JSONField(default=list, blank=True, help_text="Relative paths of the files written.")
    boards = models.JSONField(default=dict, blank=True, help_text="Per source: digest, seed, live snapshot.")
    bundle_sha256 = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True, help_text="Why the export failed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id} ({self.status})"


class ImportSource(models.Model):
    """A public preference dataset imported with `manage.py import_preferences` (Music Arena, CMI-Pref).

    Its votes form the leaderboard "imported:<slug>"; they count on the arena's live board only while an admin sets
    `counts_in_arena`.
    """

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=20, help_text="The schema the rows were read in (music-arena, cmi-pref).")
    counts_in_arena = models.BooleanField(
        default=False, help_text="Count this dataset's votes on the arena's live board too (recomputed on save)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.slug

    @property
    def scope(self) -> str:
        return f"imported:{self.slug}"


class ImportedVote(models.Model):
    """An arena vote (battle mode "imported") that came from one row of a public dataset."""

    vote = models.OneToOneField(Vote, on_delete=models.CASCADE, related_name="imported")
    source = models.ForeignKey(ImportSource, on_delete=models.CASCADE, related_name="votes")
    source_row = models.CharField(max_length=300, help_text="The row in the source: its uuid, or file and line.")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_row"], name="imported_vote_row_once"),
        ]

    def __str__(self) -> str:
        return f"{self.source.slug} {self.source_row}"
