"""REST API of live generation: a listener submits a prompt (or takes one from the bank) and polls its progress
until the battle is ready. Thin shells over arena.services.generation; the battle answers as BattleOutputSerializer.
"""
from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api import FORBIDDEN, THROTTLED, ArenaApi, _error
from arena.models import GenerationRequest
from arena.raters import rater_for_request
from arena.serializers import BattleOutputSerializer
from arena.services.generation import SEED_LIMIT, bank_prompt_take, generation_request_progress, prompt_submit
from arena.throttles import GenerationThrottle, IpThrottle

TAG = "generation"


class GenerationInputSerializer(serializers.Serializer):
    prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=20000,
                                   help_text="What to make, in your words. Leave out to take a bank prompt.")
    lyrics = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                   max_length=20000)
    duration = serializers.FloatField(required=False, allow_null=True, default=None, min_value=1, max_value=600,
                                      help_text="Seconds; otherwise read from the prompt, or the systems' default.")
    instrumental = serializers.BooleanField(required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=SEED_LIMIT,
                                    help_text="The same prompt, system and seed reuse the clip already made.")
    bank = serializers.BooleanField(required=False, default=False,
                                    help_text="Take a prompt from the bank (a ready battle when the pool has one).")
    prompt_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                         help_text="With bank: this bank prompt.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["bank"] and "prompt" not in attrs:
            raise serializers.ValidationError({"prompt": "Write a prompt, or ask for one from the bank."})
        return attrs


class PromptDetailedSerializer(serializers.Serializer):
    overall_prompt = serializers.CharField()
    instrumental = serializers.BooleanField()
    lyrics = serializers.CharField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)
    bpm = serializers.IntegerField(allow_null=True)


class GenerationOutputSerializer(serializers.Serializer):
    """A prompt request as its listener sees it: nothing in it names a system before the vote."""

    id = serializers.UUIDField(source="request.public_id")
    status = serializers.ChoiceField(source="request.status", choices=GenerationRequest.Status.choices)
    origin = serializers.CharField(source="request.origin")
    progress = serializers.FloatField(help_text="0 to 1: how far both generations got (an estimate while running).")
    stage = serializers.CharField(help_text="queued, generating, finishing, ready or failed.")
    message = serializers.CharField(source="request.message", help_text="Why it failed, when it did.")
    prompt_detailed = PromptDetailedSerializer(source="request.prompt_detailed")
    battle = BattleOutputSerializer(source="request.battle", allow_null=True,
                                    help_text="The battle, once both clips are in (never half of one).")


class GenerationCreateApi(ArenaApi):
    throttle_classes = [GenerationThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="generation_create",
        summary="Have two systems generate for your prompt (or a bank prompt)",
        description=(
            "Moderation runs first (empty, over-long, control characters, blocked words: 400 prompt_refused with "
            "details.reason). The router reads lyrics, instrumental, duration and tempo from the prompt and form; "
            "two systems that can serve it generate in the background. 201 with the battle when it is ready at once "
            "(a clip reused, or a ready battle from the bank's pool), 202 otherwise: poll the status URL."
        ),
        request=GenerationInputSerializer,
        examples=[OpenApiExample("Own prompt", request_only=True,
                                 value={"prompt": "A calm piano piece at 72 bpm, 10 seconds"}),
                  OpenApiExample("From the bank", request_only=True, value={"bank": True})],
        responses={
            201: GenerationOutputSerializer,
            202: GenerationOutputSerializer,
            400: _error("invalid_input; prompt_refused (details.reason: empty, too_long, control_characters, "
                        "blocked_word)."),
            403: FORBIDDEN,
            429: _error("throttled: too many requests from this rater or address, or too many battles asked of the "
                        "generators (EARSHOT_GENERATION_RATE_RATER, EARSHOT_GENERATION_RATE_IP); see Retry-After."),
            503: _error("no_generator_available: no two systems can make this prompt now (the message says why)."),
        },
    )
    def post(self, request: Request) -> Response:
        incoming = GenerationInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        rater = rater_for_request(request)
        if data["bank"]:
            made = bank_prompt_take(rater=rater, prompt_id=data["prompt_id"])
        else:
            made = prompt_submit(rater=rater, text=data["prompt"], lyrics=data["lyrics"], duration_s=data["duration"],
                                 instrumental=data["instrumental"], seed=data["seed"])
        progress = generation_request_progress(public_id=made.public_id, rater=rater)
        ready = progress.request.battle is not None
        response = Response(GenerationOutputSerializer(progress, context={"request": request}).data,
                            status=status.HTTP_201_CREATED if ready else status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(f"{request.path}{made.public_id}/")
        return response


class GenerationDetailApi(ArenaApi):
    throttle_classes = [IpThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="generation_retrieve",
        summary="How far your prompt's battle got",
        responses={200: GenerationOutputSerializer, 404: OpenApiResponse(description="generation_not_found"),
                   429: THROTTLED},
    )
    def get(self, request: Request, request_id: uuid.UUID) -> Response:
        progress = generation_request_progress(public_id=request_id,
                                               rater=rater_for_request(request, create=False))
        return Response(GenerationOutputSerializer(progress, context={"request": request}).data)
