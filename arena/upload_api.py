"""Admin-only REST upload of one clip: the same validation and normalisation as `manage.py import_clips`."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.ingest import clip_upload
from arena.models import Clip
from core.api import ErrorSerializer


class ClipUploadInputSerializer(serializers.Serializer):
    system = serializers.CharField(help_text="The system's slug or name (it must be registered).")
    audio = serializers.FileField(help_text="WAV, FLAC, OGG, MP3 or AIFF; decoded in full before it is accepted.")
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


class ClipUploadApi(APIView):
    permission_classes = [IsAdminUser]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="clip_upload",
        request={"multipart/form-data": ClipUploadInputSerializer},
        responses={
            201: ClipOutputSerializer,
            200: OpenApiResponse(ClipOutputSerializer, description="The same file was already imported for them."),
            400: OpenApiResponse(ErrorSerializer, description="Refused: `details.reason` says why "
                                 "(not_audio, undecodable, truncated, silent, too_long, too_large, duplicate, "
                                 "unknown_system, unknown_prompt)."),
            403: OpenApiResponse(ErrorSerializer, description="Only staff may upload."),
        },
        summary="Upload one clip of a system for a prompt (admins)",
    )
    def post(self, request: Request) -> Response:
        data = ClipUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        clip, created = clip_upload(
            system_key=values["system"],
            audio_file=values["audio"],
            prompt_id=values.get("prompt_id"),
            prompt_text=values.get("prompt", ""),
            lyrics=values["lyrics"],
            language=values["language"],
        )
        return Response(ClipOutputSerializer(clip).data, status=status.HTTP_201_CREATED if created else 200)
