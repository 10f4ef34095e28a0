"""REST API of leaderboards: the list of scopes and one scope's current snapshot with its history."""
from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.throttles import IpThrottle
from core.api import ErrorSerializer
from core.cache import cache_get_quietly, cache_set_quietly
from scoring.errors import NoWeightedBoard
from scoring.models import CROWD_METHOD, METHODS, PLAIN_METHOD
from scoring.scopes import ARENA, AXES, ORIGINS, SUBSETS, scope_parse
from scoring.selectors import (
    leaderboard_detail,
    leaderboards_summary,
    snapshot_current_version,
    weighted_board_exists,
)
from scoring.serializers import LeaderboardDetailSerializer, ScopeSummarySerializer

HISTORY_MAX = 500
# A snapshot never changes once written, so its answer is cached by snapshot id; the time only bounds the memory.
DETAIL_CACHE_SECONDS = 600
SCOPE_EXAMPLES = ", ".join([ARENA, *(f"{ARENA}:{view}" for view in (*AXES, *SUBSETS, *ORIGINS))])


class LeaderboardQuerySerializer(serializers.Serializer):
    history = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=HISTORY_MAX,
        help_text=f"How many of the latest snapshots to return as history, oldest first (0 to {HISTORY_MAX}).",
    )
    method = serializers.ChoiceField(
        choices=list(METHODS), required=False, default=PLAIN_METHOD,
        help_text="bradley_terry (default): the plain board. crowd_bt: the reliability-weighted board, where each "
        "rater's votes count by a reliability fitted jointly with the strengths; only scopes that have one "
        "(campaign scopes), else 404 no_weighted_board.",
    )


class LeaderboardListApi(APIView):
    throttle_classes = [IpThrottle]

    @extend_schema(
        operation_id="leaderboards_list",
        summary="Leaderboard scopes",
        description="Every leaderboard scope (arena overall, per axis, per prompt kind) with its vote count and "
        "the time of its current snapshot (null before the first).",
        responses={200: ScopeSummarySerializer(many=True), 429: ErrorSerializer, 503: ErrorSerializer},
        tags=["leaderboards"],
    )
    def get(self, request: Request) -> Response:
        return Response(ScopeSummarySerializer(leaderboards_summary(), many=True).data)


class LeaderboardDetailApi(APIView):
    throttle_classes = [IpThrottle]

    @extend_schema(
        operation_id="leaderboards_retrieve",
        summary="One leaderboard",
        description="The scope's current snapshot: Bradley–Terry ratings on the Elo scale with 95% bootstrap "
        "intervals, ranks, tallies, online Elo, loudness/duration-controlled ratings, win-rate and battle "
        "matrices, and per row the votes still needed to separate it from the next; `snapshot` is null before the "
        "first recompute. The same snapshot is pushed on ws/leaderboards/<scope>/ whenever a recompute lands. "
        "With ?method=crowd_bt: the scope's reliability-weighted board instead (not pushed).",
        parameters=[
            OpenApiParameter("scope", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description=f"e.g. {SCOPE_EXAMPLES}"),
            LeaderboardQuerySerializer,
        ],
        responses={
            200: LeaderboardDetailSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
        tags=["leaderboards"],
    )
    def get(self, request: Request, scope: str) -> Response:
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        parsed, history = scope_parse(scope), query.validated_data["history"]
        method = query.validated_data["method"]
        if method == CROWD_METHOD and not weighted_board_exists(scope=parsed):
            raise NoWeightedBoard(
                f"Leaderboard {parsed.name!r} has no reliability-weighted board: only scopes whose raters are "
                "weighed by reliability (campaign scopes) have one. Leave out method for the plain board.",
                scope=parsed.name,
            )
        # A storm of identical reads costs one small query each (the current snapshot's id), not the history.
        version = snapshot_current_version(scope=parsed.name, method=method)
        key = f"scoring:leaderboard-detail:{parsed.name}:{method}:{version}:{history}"
        body = cache_get_quietly(key)
        if body is None:
            detail: dict[str, Any] = leaderboard_detail(scope=parsed, history=history, method=method)
            body = json.loads(json.dumps(LeaderboardDetailSerializer(detail).data, cls=DjangoJSONEncoder))
            cache_set_quietly(key, body, timeout=DETAIL_CACHE_SECONDS)
        return Response(body)
