"""REST API of a campaign's dashboard (staff): the same figures the /c/<slug>/dashboard/ page shows and refetches
whenever one of the campaign's boards is pushed."""
from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.dashboard import campaign_dashboard
from annotation.errors import CampaignNotFound
from annotation.models import Campaign, CampaignRater
from core.api import ErrorSerializer
from core.axes import choices as axis_choices


class DashboardCampaignSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    overlap = serializers.IntegerField(help_text="k: finished votes wanted per regular pair.")
    scope = serializers.CharField(help_text="The campaign's overall leaderboard scope, campaign:<slug>.")
    axes = serializers.ListField(
        child=serializers.CharField(), help_text="The axes asked (overall, musicality, prompt_alignment, "
        "lyrics_alignment), in the order of `boards` and `agreement`."
    )
    scopes = serializers.ListField(
        child=serializers.CharField(), help_text="The board scope of each axis, in the order of `axes`: the page "
        "follows ws/leaderboards/<scope>/ of each."
    )


class DashboardProgressSerializer(serializers.Serializer):
    pairs_total = serializers.IntegerField(help_text="Regular pairs (gold and practice are not counted).")
    pairs_complete = serializers.IntegerField(help_text="Regular pairs with their k finished votes.")
    votes_done = serializers.IntegerField(help_text="Finished votes on regular pairs.")
    votes_wanted = serializers.IntegerField(help_text="k per regular pair, summed.")
    raters = serializers.IntegerField()
    raters_completed = serializers.IntegerField()
    raters_excluded = serializers.IntegerField(help_text="Raters whose votes the boards and exports leave out.")
    gold_answered = serializers.IntegerField()
    skips = serializers.IntegerField()
    live_leases = serializers.IntegerField(help_text="Items held by a rater right now.")


class DashboardTimesSerializer(serializers.Serializer):
    votes = serializers.IntegerField(help_text="Regular votes the medians are taken over.")
    median_seconds = serializers.FloatField(
        allow_null=True, help_text="Measured on the server: the vote's arrival minus its battle's opening "
        "(listening included). Null before the first vote."
    )
    median_decision_seconds = serializers.FloatField(
        allow_null=True, help_text="As the page reported it (decision_ms): from when voting was allowed to the click."
    )


class DashboardRaterSerializer(serializers.Serializer):
    member_id = serializers.IntegerField(help_text="The campaign rater's id (the admin's).")
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="The crowd id, or the first characters of the rater's id.")
    crowd_id = serializers.CharField(allow_blank=True)
    rater_id = serializers.UUIDField(help_text="The rater's public id.")
    votes = serializers.IntegerField(help_text="Finished regular items.")
    skips = serializers.IntegerField()
    gold_answered = serializers.IntegerField()
    gold_correct = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True, help_text="Null before the first gold answer.")
    fast_decisions = serializers.IntegerField()
    flags = serializers.ListField(child=serializers.CharField(), help_text="Current quality flags (codes).")
    override = serializers.ChoiceField(choices=CampaignRater.Override.choices, allow_blank=True)
    excluded = serializers.BooleanField()
    completed = serializers.BooleanField()
    reliability = serializers.FloatField(
        allow_null=True, help_text="Reliability weight (eta) from the campaign's Crowd-BT fit: near 1 careful, near "
        "0.5 random. Null until the fit has this rater."
    )


class DashboardBoardRowSerializer(serializers.Serializer):
    system_id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField(allow_null=True)
    rating = serializers.FloatField(help_text="Bradley–Terry rating on the Elo scale.")
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()
    rank = serializers.IntegerField()
    n = serializers.IntegerField()
    preliminary = serializers.BooleanField(allow_null=True)
    votes_to_separate = serializers.FloatField(
        allow_null=True, help_text="Votes still needed to separate this system from the next one down (null where "
        "not projected)."
    )
    separation = serializers.JSONField(allow_null=True, help_text="The projection's detail, as the snapshot has it.")


class DashboardBoardSerializer(serializers.Serializer):
    axis = serializers.ChoiceField(choices=axis_choices())
    label = serializers.CharField()  # type: ignore[assignment]
    scope = serializers.CharField()
    snapshot_id = serializers.IntegerField(allow_null=True, help_text="Null before the scope's first recompute.")
    computed_at = serializers.DateTimeField(allow_null=True)
    vote_count = serializers.IntegerField()
    rows = DashboardBoardRowSerializer(many=True)


class EstimateSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="Null (with `reason`) when undefined on these votes.")
    low = serializers.FloatField(allow_null=True, help_text="95% interval, resampling pairs.")
    high = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(help_text="Pairs the figure uses.")
    method = serializers.CharField()
    p_value = serializers.FloatField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class DashboardAgreementSerializer(serializers.Serializer):
    axis = serializers.ChoiceField(choices=axis_choices())
    label = serializers.CharField()  # type: ignore[assignment]
    n_items = serializers.IntegerField(help_text="Regular pairs with two or more counted votes.")
    n_votes = serializers.IntegerField()
    categories = serializers.ListField(child=serializers.CharField())
    pairwise_agreement = EstimateSerializer()
    fleiss_kappa = EstimateSerializer()
    krippendorff_alpha = EstimateSerializer(help_text="Nominal.")
    majority_agreement = EstimateSerializer(help_text="Leave-one-out majority, pairs with three or more votes.")


class DashboardSerializer(serializers.Serializer):
    campaign = DashboardCampaignSerializer()
    progress = DashboardProgressSerializer()
    times = DashboardTimesSerializer()
    reliability_computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the Crowd-BT fit behind the reliability column ran; null before it."
    )
    raters = DashboardRaterSerializer(many=True)
    boards = DashboardBoardSerializer(many=True)
    agreement = DashboardAgreementSerializer(many=True)
    computed_at = serializers.DateTimeField()


def dashboard_data(*, slug: str) -> dict[str, Any]:
    """The dashboard of the campaign called `slug` as JSON-ready data (the page embeds it, the API returns it)."""
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise CampaignNotFound(slug=slug)
    return dict(DashboardSerializer(campaign_dashboard(campaign=campaign)).data)


class CampaignDashboardApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="campaigns_dashboard",
        summary="A campaign's dashboard",
        description="Staff only. Progress (pairs complete of all, votes done of wanted), median time per vote, the "
        "rater table with gold accuracy, flags and Crowd-BT reliability, the campaign's board per axis from the "
        "scoring engine's current snapshots, and agreement between raters per axis on pairs with two or more "
        "counted votes (percent agreement, Fleiss' kappa, Krippendorff's alpha, leave-one-out majority). Votes "
        "are nominal labels a / b / tie / both_bad in the pair's own order. Refetch it when "
        "ws/leaderboards/<scope>/ of any of the campaign's scopes pushes.",
        parameters=[OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The campaign.")],
        responses={
            200: DashboardSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Not signed in as staff."),
            404: OpenApiResponse(ErrorSerializer, description="No such campaign."),
        },
        tags=["campaigns"],
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(dashboard_data(slug=slug))
