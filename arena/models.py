"""Catalogue (System, Prompt, Clip) and the blind comparisons (Rater, Battle, Vote) with their invariants."""
from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def opaque_id() -> str:
    return secrets.token_urlsafe(16)


class System(models.Model):
    """A generator under evaluation."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    organisation = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Live generation (arena.generation): the Generator class that makes this system's clips on demand, and its
    # JSON config (endpoint, secret_env, timeout_s, max_duration_s, concurrency, ...). Blank: imported clips only.
    generator = models.CharField(
        max_length=255, blank=True,
        help_text="Class path of the generator adapter, e.g. arena.generation.generators.HttpJsonGenerator; "
        "blank when the system has imported clips only.",
    )
    generator_config = models.JSONField(
        default=dict, blank=True,
        help_text='JSON config of the generator: {"endpoint": "https://...", "secret_env": "NAME", "timeout_s": 120, '
        '"max_duration_s": 30, "concurrency": 4, "signature": {"lyrics": true, "vocal": true}}.',
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PromptOrigin(models.TextChoices):
    """Where a prompt came from: the admin's bank (imported, seeded) or a listener who wrote it."""

    BANK = "bank", "Bank"
    LISTENER = "listener", "Listener"


class Prompt(models.Model):
    """What the systems were asked to make: text, optional lyrics, optional reference audio."""

    text = models.TextField()
    origin = models.CharField(max_length=16, choices=PromptOrigin.choices, default=PromptOrigin.BANK, db_index=True)
    lyrics = models.TextField(blank=True)
    reference_audio = models.FileField(upload_to="references/", blank=True)
    tags = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, blank=True, default="en")
    source = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def has_lyrics(self) -> bool:
        return bool(self.lyrics.strip())


class Clip(models.Model):
    """Audio of one system for one prompt; delivered only through a loudness-normalised, untagged copy."""

    public_id = models.CharField(max_length=32, unique=True, default=opaque_id, editable=False)
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="clips")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="clips")
    original = models.FileField(upload_to="originals/")
    delivery = models.FileField(upload_to="delivery/")
    original_name = models.CharField(max_length=255, blank=True)
    duration_s = models.FloatField()
    sample_rate = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    sha256 = models.CharField(max_length=64, unique=True)
    loudness_lufs = models.FloatField(help_text="Integrated loudness of the original (ITU-R BS.1770).")
    delivery_lufs = models.FloatField(help_text="Integrated loudness of the delivery copy.")
    delivery_frame_bytes = models.PositiveIntegerField(
        default=0,
        help_text="Frame size of the constant-bitrate delivery stream; 0 for a copy made before that layout "
        "(served as stored until manage.py reencode_deliveries).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["prompt", "system"])]

    def __str__(self) -> str:
        return f"{self.system} / prompt {self.prompt_id} / {self.public_id}"



class ClipUpload(models.Model):
    """An admin's upload of one clip, imported by a Celery worker: the form's values, the staged file, the outcome.

    The web request only checks the form and stages the file; decoding, loudness and encoding run in the worker
    (arena.tasks.clip_upload_task), which records here what became of it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    system_key = models.CharField(max_length=120, help_text="The system's slug or name, as given on the form.")
    given_prompt_id = models.BigIntegerField(null=True, blank=True, help_text="The prompt id given on the form.")
    prompt_text = models.TextField(blank=True)
    lyrics = models.TextField(blank=True)
    language = models.CharField(max_length=16, default="en")
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField()
    staged = models.CharField(max_length=255, help_text="The uploaded file in storage until the worker is done.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=32, blank=True, help_text="Why it was refused or failed, in one word.")
    message = models.TextField(blank=True)
    clip = models.ForeignKey(Clip, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    clip_created = models.BooleanField(
        null=True, blank=True, help_text="False when the same file was already imported for this system and prompt."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    PENDING = (Status.QUEUED, Status.RUNNING)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "refused", "failed"]),
                name="clip_upload_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"upload {self.public_id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status not in self.PENDING

class Rater(models.Model):
    """Who votes: an account, or an anonymous identity bound to a browser session."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="rater"
    )
    external_id = models.CharField(max_length=200, blank=True, help_text="Crowd-platform id, when given.")
    created_at = models.DateTimeField(auto_now_add=True)
    ip_hash = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Salted hash of the address the rater was created from."
    )
    # Counted by battle_create under the rater's row lock: the abandonment share needs no scan of the battles.
    battles_opened = models.PositiveIntegerField(default=0)
    battles_abandoned = models.PositiveIntegerField(
        default=0, help_text="Battles closed unvoted because the rater opened more than the cap."
    )
    excluded_from_boards = models.BooleanField(
        default=False, help_text="Leave this rater's votes out of every leaderboard."
    )

    class Meta:
        indexes = [
            # Few raters are excluded; the leaderboards' GROUP BY reads just them.
            models.Index(fields=["id"], condition=Q(excluded_from_boards=True), name="rater_excluded_from_boards"),
        ]

    def __str__(self) -> str:
        return self.user.get_username() if self.user else f"anonymous {self.public_id}"


class Choice(models.TextChoices):
    A = "a", "A is better"
    B = "b", "B is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both bad"


class Battle(models.Model):
    """One presentation of a pair of clips to one rater, sides already shuffled."""

    class Mode(models.TextChoices):
        ARENA = "arena", "Arena"
        CAMPAIGN = "campaign", "Campaign"
        IMPORTED = "imported", "Imported"  # a vote of a public preference dataset (annotation.imports)

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        VOTED = "voted", "Voted"
        EXPIRED = "expired", "Expired"
        ABANDONED = "abandoned", "Abandoned"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="battles")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="battles")
    clip_a = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="battles_as_a")
    clip_b = models.ForeignKey(Clip, on_delete=models.PROTECT, related_name="battles_as_b")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ARENA)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    abandoned_at = models.DateTimeField(null=True, blank=True)
    ms_played_a = models.PositiveIntegerField(default=0)
    ms_played_b = models.PositiveIntegerField(default=0)
    seeks = models.PositiveIntegerField(default=0)
    switches = models.PositiveIntegerField(default=0)
    suggestion_shown = models.BooleanField(default=False)
    suggestion_side = models.CharField(max_length=1, blank=True)
    suggestion_p = models.FloatField(null=True, blank=True)
    # Listening state carried between event batches: the side playing since which position and client time, and
    # the side heard last (a change of side is a switch).
    playing_side = models.CharField(max_length=1, blank=True)
    mark_position_ms = models.PositiveIntegerField(default=0)
    mark_client_ms = models.BigIntegerField(null=True, blank=True)
    last_side = models.CharField(max_length=1, blank=True)
    # Audio the rater requested through this battle's URLs, as the clip's milliseconds: per side, the merged
    # [start, end) intervals of whole frames (e.g. {"a": [[0, 5040]], "b": []}). The vote checks it.
    audio_fetched_ms = models.JSONField(default=dict, blank=True)
    # Set by whoever opens a battle outside the open arena (a campaign): its own listening minimum per side, and
    # whether the vote's answer names the systems. Null / True: the arena's rules (EARSHOT_MIN_LISTEN_SECONDS).
    min_listen_ms = models.PositiveIntegerField(null=True, blank=True)
    reveal_systems = models.BooleanField(default=True)
    # A generated battle: what the router made of the listener's input (Music Arena's prompt_detailed:
    # overall_prompt, instrumental, lyrics, duration, bpm); {} for a battle of imported clips.
    prompt_detailed = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["rater", "status"])]
        constraints = [
            models.CheckConstraint(condition=~Q(clip_a=models.F("clip_b")), name="battle_two_different_clips"),
        ]

    def __str__(self) -> str:
        return f"battle {self.public_id}"


class Vote(models.Model):
    """The one vote of a battle; system ids are copied in so leaderboards aggregate with a single GROUP BY."""

    battle = models.OneToOneField(Battle, on_delete=models.CASCADE, related_name="vote")
    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="votes")
    system_a = models.ForeignKey(System, on_delete=models.PROTECT, related_name="+")
    system_b = models.ForeignKey(System, on_delete=models.PROTECT, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="votes")
    choice = models.CharField(max_length=16, choices=Choice.choices)
    musicality = models.CharField(max_length=16, choices=Choice.choices, blank=True)
    prompt_alignment = models.CharField(max_length=16, choices=Choice.choices, blank=True)
    lyrics_alignment = models.CharField(max_length=16, choices=Choice.choices, blank=True)
    reason = models.TextField(blank=True)
    ms_played_a = models.PositiveIntegerField(default=0)
    ms_played_b = models.PositiveIntegerField(default=0)
    seeks = models.PositiveIntegerField(default=0)
    switches = models.PositiveIntegerField(default=0)
    decision_ms = models.PositiveIntegerField(default=0)
    client_hints = models.JSONField(default=dict, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    suggestion_shown = models.BooleanField(default=False)
    suggestion_side = models.CharField(max_length=1, blank=True)
    suggestion_p = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["system_a", "system_b"])]

    def __str__(self) -> str:
        return f"vote {self.choice} on {self.battle_id}"


# --------------------------------------------------------------------------------------------------------------------
# Live generation: listeners' prompts, the generations they need, and the words moderation refuses.


class BlockedWord(models.Model):
    """A word (or phrase) the default moderation refuses in listeners' prompts and lyrics; kept by admins."""

    word = models.CharField(max_length=100, unique=True, help_text="Matched case-insensitively as a whole word.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word


class Generation(models.Model):
    """One system's clip for one prompt, detailed prompt and seed: made once, reused by every request asking the same.

    `key` is the sha256 of (system, prompt, detailed prompt, seed): identical asks share the row, and its clip.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=64, unique=True)
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="generations")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="generations")
    prompt_detailed = models.JSONField(default=dict)
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    clip = models.ForeignKey(Clip, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=32, blank=True, help_text="Why it failed, in one word.")
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    generation_ms = models.PositiveIntegerField(null=True, blank=True, help_text="The generator's own time.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["system", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="generation_status_known"
            ),
            models.CheckConstraint(condition=~Q(status="done") | Q(clip__isnull=False), name="generation_done_clip"),
        ]

    def __str__(self) -> str:
        return f"generation {self.pk} of {self.system_id} ({self.status})"


class GenerationRequest(models.Model):
    """A battle asked for by a listener (their own prompt or one from the bank) or by the ready pool, until it opens.

    Two generations (sides not yet shuffled) feed it; the battle is opened only once both clips are in, so no rater
    ever sees half a battle. A request of the pool (no rater) waits, ready, until a listener claims it.
    """

    class Status(models.TextChoices):
        REFUSED = "refused", "Refused by moderation"
        GENERATING = "generating", "Generating"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Moderation(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"
        REMOVED = "removed", "Removed by an admin"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rater = models.ForeignKey(Rater, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rater_hash = models.CharField(max_length=64, blank=True, help_text="HMAC of the rater's id: kept after pruning.")
    origin = models.CharField(max_length=16, choices=PromptOrigin.choices)
    text = models.TextField(help_text="What the listener wrote (control characters replaced).")
    lyrics = models.TextField(blank=True)
    prompt = models.ForeignKey(Prompt, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    prompt_detailed = models.JSONField(default=dict, blank=True)
    router = models.CharField(max_length=255, blank=True)
    moderation = models.CharField(max_length=16, choices=Moderation.choices, default=Moderation.ACCEPTED)
    moderation_reason = models.CharField(max_length=32, blank=True)
    moderation_message = models.TextField(blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    generation_a = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    generation_b = models.ForeignKey(Generation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    systems_tried = models.JSONField(default=list, blank=True, help_text="Ids of every system drawn for it.")
    battle = models.OneToOneField(
        Battle, null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_request"
    )
    message = models.TextField(blank=True, help_text="What the listener is told when it failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a listener took it from the pool.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The pool: ready requests without a rater, per prompt.
            models.Index(fields=["prompt"], condition=Q(status="ready", rater__isnull=True, battle__isnull=True),
                         name="generation_request_pooled"),
            models.Index(fields=["status"], name="generation_request_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["refused", "generating", "ready", "failed"]),
                name="generation_request_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_origin_display()} prompt {self.public_id} ({self.status})"
