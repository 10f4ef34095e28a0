"""Admin-only REST upload of one clip: the same validation and normalisation as `manage.py import_clips`, run by a
Celery worker; the request checks the form, stages the file and answers the job to follow."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.models import Clip, ClipUpload
from arena.services.uploads import clip_upload_get, clip_upload_queue
from core.api import ErrorSerializer

REFUSAL_REASONS = ("not_audio, undecodable, truncated, silent, too_long, too_large, unsupported, duplicate, "
                   "unknown_system, unknown_prompt")


class ClipUploadInputSerializer(serializers.Serializer):
    system = serializers.CharField(help_text="The system's slug or name (it must be registered).")
    audio = serializers.FileField(help_text="WAV, FLAC, OGG, MP3 or AIFF; a worker decodes it in full before it is "
                                  "accepted.")
    prompt_id = serializers.IntegerField(required=False, help_text="An existing prompt, or give `prompt`.")
    prompt = serializers.CharField(required=False, allow_blank=False, help_text="Prompt text (found or created).")
    lyrics = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.CharField(required=False, max_length=16, default="en")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("prompt_id") is None and not attrs.get("prompt"):
            raise serializers.ValidationError("give either prompt_id or prompt (its text)")
        return attrs


class ClipOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    system = serializers.CharField(source="system.slug", read_only=True)

    class Meta:
        model = Clip
        fields = ["id", "system", "prompt_id", "duration_s", "sample_rate", "channels", "sha256", "loudness_lufs",
                  "delivery_lufs", "created_at"]


class ClipUploadOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(
        choices=ClipUpload.Status.choices,
        help_text="queued or running: ask status_url again; done: `clip` is the clip; refused: `reason` says why "
        f"({REFUSAL_REASONS}); failed: the import broke, try again.",
    )
    status_url = serializers.SerializerMethodField()
    system = serializers.CharField(source="system_key")
    prompt_id = serializers.IntegerField(source="given_prompt_id", allow_null=True)
    reason = serializers.CharField(help_text="Why the file was refused (or `failed`); empty otherwise.")
    message = serializers.CharField(help_text="What became of the file, in a sentence.")
    clip = ClipOutputSerializer(allow_null=True, help_text="The clip, once done.")
    clip_created = serializers.BooleanField(
        allow_null=True, help_text="false when the same file was already imported for this system and prompt."
    )

    class Meta:
        model = ClipUpload
        fields = ["id", "status", "status_url", "file_name", "file_size", "system", "prompt_id", "reason", "message",
                  "clip", "clip_created", "created_at", "started_at", "finished_at"]

    def get_status_url(self, upload: ClipUpload) -> str:
        return reverse("arena:clip-upload-detail", kwargs={"upload_id": upload.public_id})


class ClipUploadApi(APIView):
    permission_classes = [IsAdminUser]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="clip_upload",
        request={"multipart/form-data": ClipUploadInputSerializer},
        responses={
            202: OpenApiResponse(ClipUploadOutputSerializer, description="Queued: a worker imports the file; follow "
                                 "`status_url` (also the Location header) until it is done, refused or failed."),
            200: OpenApiResponse(ClipUploadOutputSerializer, description="Already finished within the request "
                                 "(eager Celery, as in the embedded demo): the job says how."),
            400: OpenApiResponse(ErrorSerializer, description="The form is refused before anything is queued: "
                                 "`details.reason` is unknown_system, unknown_prompt or too_large, or the code is "
                                 "invalid_input (no prompt_id nor prompt, no file)."),
            403: OpenApiResponse(ErrorSerializer, description="Only staff may upload."),
            413: OpenApiResponse(ErrorSerializer, description="The request body is over the server's limit."),
        },
        summary="Upload one clip of a system for a prompt (admins); a worker imports it",
    )
    def post(self, request: Request) -> Response:
        data = ClipUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = clip_upload_queue(
            uploaded_by=request.user,
            system_key=values["system"],
            audio_file=values["audio"],
            prompt_id=values.get("prompt_id"),
            prompt_text=values.get("prompt", ""),
            lyrics=values["lyrics"],
            language=values["language"],
        )
        body = ClipUploadOutputSerializer(upload).data
        return Response(body, status=200 if upload.finished else status.HTTP_202_ACCEPTED,
                        headers={"Location": body["status_url"]})


class ClipUploadDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="clip_upload_status",
        responses={
            200: ClipUploadOutputSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Only staff may follow uploads."),
            404: OpenApiResponse(ErrorSerializer, description="No such upload (code clip_upload_not_found)."),
        },
        summary="An upload's status: queued, running, done (with the clip), refused (with the reason) or failed",
    )
    def get(self, request: Request, upload_id: UUID) -> Response:
        return Response(ClipUploadOutputSerializer(clip_upload_get(public_id=upload_id)).data)
