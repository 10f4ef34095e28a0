"""Admin pages for the catalogue, the uploads, the raters (with their flags) and the battles.

Web code: nothing here decodes more than a check or encodes; encoding runs in a Celery worker, queued by name.
"""
from typing import Any

from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest

from arena.errors import ClipRefused
from arena.generation.generators import generator_build
from arena.models import (
    Battle,
    BlockedWord,
    Clip,
    ClipUpload,
    Generation,
    GenerationRequest,
    Prompt,
    Rater,
    System,
    Vote,
)
from arena.selectors import RaterFlag, rater_flag_condition, raters_flagged, raters_with_flags
from arena.services.generation import listener_requests_removed
from arena.services.raters import raters_board_exclusion_set
from arena.services.uploads import prompt_reference_queue, reference_audio_check
from core.errors import InvalidInput


class PromptAdminForm(forms.ModelForm):
    """A reference audio upload passes the clips' checks on the form; a worker then stores its re-encoded delivery
    copy as the reference: what listeners fetch is audio this server wrote, never the uploaded bytes."""

    reference_upload: UploadedFile | None = None

    class Meta:
        model = Prompt
        fields = ["text", "lyrics", "reference_audio", "tags", "language", "source"]

    def clean_reference_audio(self) -> Any:
        upload = self.cleaned_data.get("reference_audio")
        if not isinstance(upload, UploadedFile):
            return upload  # unchanged, or cleared
        try:
            reference_audio_check(upload=upload)
        except ClipRefused as exc:
            raise forms.ValidationError(exc.message, code=exc.reason) from exc
        self.reference_upload = upload
        return None  # the field keeps its file until the worker stores the re-encoded one


class SystemAdminForm(forms.ModelForm):
    """The generator's class path and config are checked on save: a typo cannot reach the workers."""

    class Meta:
        model = System
        fields = ["name", "slug", "organisation", "description", "active", "generator", "generator_config"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        path = (cleaned.get("generator") or "").strip()
        cleaned["generator"] = path
        if path:
            try:
                generator_build(path=path, config=cleaned.get("generator_config") or {})
            except InvalidInput as exc:
                field = "generator" if exc.details.get("field") == "generator" else "generator_config"
                raise forms.ValidationError({field: exc.message}) from exc
        return cleaned


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    form = SystemAdminForm
    list_display = ("name", "slug", "organisation", "active", "generates", "created_at")
    list_filter = ("active", "organisation")
    search_fields = ("name", "slug", "organisation", "description")
    prepopulated_fields = {"slug": ("name",)}

    @admin.display(boolean=True, description="generator")
    def generates(self, obj: System) -> bool:
        return bool(obj.generator)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    form = PromptAdminForm
    list_display = ("id", "short_text", "origin", "language", "has_lyrics", "source", "created_at")
    list_filter = ("origin", "language", "source")
    search_fields = ("text", "lyrics", "source")

    @admin.display(description="text")
    def short_text(self, obj: Prompt) -> str:
        return obj.text[:80]

    @admin.display(boolean=True, description="lyrics")
    def has_lyrics(self, obj: Prompt) -> bool:
        return obj.has_lyrics

    def save_model(self, request: HttpRequest, obj: Prompt, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        upload = getattr(form, "reference_upload", None)
        if upload is not None:
            prompt_reference_queue(prompt=obj, upload=upload)
            self.message_user(request, "The reference audio is being re-encoded; it is in place once the worker "
                              "is done.")


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ("public_id", "system", "prompt_id", "duration", "sample_rate", "channels", "loudness",
                    "delivery_loudness", "active")
    list_filter = ("system", "active", "sample_rate", "channels")
    search_fields = ("public_id", "sha256", "original_name", "prompt__text", "system__name")
    readonly_fields = ("public_id", "sha256", "duration_s", "sample_rate", "channels", "loudness_lufs",
                       "delivery_lufs", "original", "delivery", "created_at")
    list_select_related = ("system",)

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, obj: Clip) -> str:
        return f"{obj.duration_s:.2f} s"

    @admin.display(description="loudness", ordering="loudness_lufs")
    def loudness(self, obj: Clip) -> str:
        return f"{obj.loudness_lufs:.1f} LUFS"

    @admin.display(description="delivered at", ordering="delivery_lufs")
    def delivery_loudness(self, obj: Clip) -> str:
        return f"{obj.delivery_lufs:.1f} LUFS"


@admin.register(ClipUpload)
class ClipUploadAdmin(admin.ModelAdmin):
    """Uploads through POST /api/clips/, to follow (read only: the worker writes them)."""

    list_display = ("public_id", "file_name", "system_key", "status", "reason", "uploaded_by", "created_at",
                    "finished_at")
    list_filter = ("status", "reason")
    search_fields = ("public_id", "file_name", "system_key", "message")
    list_select_related = ("uploaded_by",)
    raw_id_fields = ("clip",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ClipUpload | None = None) -> bool:
        return False


class RaterFlagFilter(admin.SimpleListFilter):
    title = "flag"
    parameter_name = "flag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*RaterFlag.choices, ("any", "Any flag")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rater]) -> QuerySet[Rater]:
        value = self.value()
        if value == "any":
            return queryset.filter(pk__in=raters_flagged().values("pk"))
        if value in RaterFlag.values:
            return queryset.filter(rater_flag_condition(value))
        return queryset


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ("public_id", "user", "external_id", "created_at", "battles_opened", "battles_abandoned",
                    "abandon_share", "raters_on_address", "flags", "excluded_from_boards")
    list_filter = (RaterFlagFilter, "excluded_from_boards")
    search_fields = ("public_id", "user__username", "external_id", "ip_hash")
    readonly_fields = ("public_id", "ip_hash", "battles_opened", "battles_abandoned", "created_at")
    list_select_related = ("user",)
    actions = ("exclude_from_boards", "include_in_boards")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rater]:
        return raters_with_flags()

    @admin.display(description="abandoned")
    def abandon_share(self, obj: Rater) -> str:
        return f"{obj.battles_abandoned / obj.battles_opened:.0%}" if obj.battles_opened else "–"

    @admin.display(description="raters on its address", ordering="raters_on_address")
    def raters_on_address(self, obj: Rater) -> int:
        return int(getattr(obj, "raters_on_address", 1))

    @admin.display(description="flags")
    def flags(self, obj: Rater) -> str:
        raised = [flag.label for flag in RaterFlag if getattr(obj, f"flag_{flag.value}", False)]
        return "; ".join(raised) or "–"

    @admin.action(description="Leave the selected raters' votes out of the leaderboards")
    def exclude_from_boards(self, request: HttpRequest, queryset: QuerySet[Rater]) -> None:
        changed = raters_board_exclusion_set(rater_ids=queryset.values_list("pk", flat=True), excluded=True)
        self.message_user(request, f"{changed} raters left out of the leaderboards"
                          + ("; a full recompute is queued." if changed else "."))

    @admin.action(description="Count the selected raters' votes on the leaderboards again")
    def include_in_boards(self, request: HttpRequest, queryset: QuerySet[Rater]) -> None:
        changed = raters_board_exclusion_set(rater_ids=queryset.values_list("pk", flat=True), excluded=False)
        self.message_user(request, f"{changed} raters counted on the leaderboards again"
                          + ("; a full recompute is queued." if changed else "."))


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ("public_id", "rater", "mode", "status", "created_at", "expires_at", "abandoned_at")
    list_filter = ("mode", "status")
    search_fields = ("public_id",)
    raw_id_fields = ("rater", "prompt", "clip_a", "clip_b")


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("id", "battle", "choice", "system_a", "system_b", "decision_ms", "created_at")
    list_filter = ("choice", "system_a", "system_b", "suggestion_shown")
    raw_id_fields = ("battle", "rater", "prompt")


@admin.register(BlockedWord)
class BlockedWordAdmin(admin.ModelAdmin):
    """The words the default moderation refuses in listeners' prompts and lyrics (whole words, any case)."""

    list_display = ("word", "created_at")
    search_fields = ("word",)


@admin.register(GenerationRequest)
class GenerationRequestAdmin(admin.ModelAdmin):
    """Listeners' prompts (and the pool's bank battles): browse, filter by outcome, and remove what should not stay
    (its clips are retired and its open battles closed)."""

    list_display = ("public_id", "origin", "short_text", "status", "moderation", "moderation_reason", "rater_short",
                    "created_at", "ready_at")
    list_filter = ("origin", "status", "moderation", "moderation_reason")
    search_fields = ("public_id", "text", "lyrics", "rater_hash")
    readonly_fields = [field.name for field in GenerationRequest._meta.fields]
    actions = ["remove_prompts"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="prompt")
    def short_text(self, obj: GenerationRequest) -> str:
        return obj.text[:80]

    @admin.display(description="rater (hashed)")
    def rater_short(self, obj: GenerationRequest) -> str:
        return obj.rater_hash[:12]

    @admin.action(description="Remove these listener prompts (retire their clips, close their open battles)",
                  permissions=["change"])
    def remove_prompts(self, request: HttpRequest, queryset: QuerySet[GenerationRequest]) -> None:
        changed = listener_requests_removed(request_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{changed} listener prompts removed.")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("id", "system", "prompt_id", "seed", "status", "attempts", "reason", "generation_ms",
                    "created_at", "finished_at")
    list_filter = ("status", "system", "reason")
    search_fields = ("key", "message")
    readonly_fields = [field.name for field in Generation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
