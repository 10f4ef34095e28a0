"""REST API of the reward model: versions (list, activate), a prompt's model ranking, the agreement report."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.throttles import IpThrottle
from core.api import ErrorSerializer
from reward.errors import NoAgreementReport, VersionNotFound
from reward.models import RewardModelVersion
from reward.selectors import agreement_report_current, prompt_ranking, versions_list
from reward.serializers import (
    AgreementReportSerializer,
    PromptRankingSerializer,
    RankingQuerySerializer,
    RewardModelVersionSerializer,
)


class RewardModelListApi(APIView):
    @extend_schema(
        operation_id="reward_models_list",
        summary="Reward model versions",
        description="Every version, newest first, with training and rescoring progress and held-out figures.",
        responses={200: RewardModelVersionSerializer(many=True)},
        tags=["reward model"],
    )
    def get(self, request: Request) -> Response:
        return Response(RewardModelVersionSerializer(versions_list(), many=True).data)


class RewardModelActivateApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="reward_models_activate",
        summary="Activate a version",
        description="Makes this version the active one (staff only); every clip is then rescored by a Celery "
        "worker in batches, and the agreement report recomputed.",
        request=None,
        responses={200: RewardModelVersionSerializer, 403: ErrorSerializer, 404: ErrorSerializer,
                   409: ErrorSerializer},
        tags=["reward model"],
    )
    def post(self, request: Request, version_id: int) -> Response:
        from reward.services import version_activate

        version = RewardModelVersion.objects.filter(pk=version_id).first()
        if version is None:
            raise VersionNotFound()
        return Response(RewardModelVersionSerializer(version_activate(version=version)).data)


class PromptRankingApi(APIView):
    # Staff only: a ranking names the systems behind a prompt's clips, which with a shown suggestion's probability
    # could let a rater work out which system is behind each side of a battle.
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="prompts_ranking",
        summary="A prompt's clips ranked by the reward model",
        description="The prompt's active clips ordered by the active version's score (staff only).",
        parameters=[RankingQuerySerializer],
        responses={200: PromptRankingSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        tags=["reward model"],
    )
    def get(self, request: Request, prompt_id: int) -> Response:
        query = RankingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ranking = prompt_ranking(prompt_id=prompt_id, axis=query.validated_data["axis"])
        return Response(PromptRankingSerializer(ranking).data)


class AgreementApi(APIView):
    throttle_classes = [IpThrottle]

    @extend_schema(
        operation_id="agreement_retrieve",
        summary="How well the reward model agrees with people",
        description="The newest agreement report of the active version, recomputed by Celery as votes arrive.",
        responses={200: AgreementReportSerializer, 404: ErrorSerializer, 429: ErrorSerializer, 503: ErrorSerializer},
        tags=["reward model"],
    )
    def get(self, request: Request) -> Response:
        report = agreement_report_current()
        if report is None:
            raise NoAgreementReport()
        return Response(AgreementReportSerializer(report).data)
