"""REST API of a campaign's raters under /api/campaigns/<slug>/: join, consent, the next item, skip.

An item is a real arena battle: its audio, telemetry and vote go through the arena's own endpoints
(/api/battles/<id>/…), with the arena's blindness and listening checks. Its vote is counted against the lease by
the arena's vote hook. The arena's `next: true` is ignored for campaign battles (`next_battle` is null): the page
asks /next/ here, so a campaign rater is never handed an open-arena battle in the middle of a study.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.assignment import assignment_next, assignment_skip
from annotation.errors import NotAMember
from annotation.joining import member_for_request, member_join_for_request
from annotation.membership import CrowdIds, campaign_for_rater, crowd_ids_make, member_consent, member_progress
from annotation.models import Campaign, CampaignPair, CampaignRater
from annotation.rater_serializers import (
    SKIP_REASONS,
    JoinInputSerializer,
    MemberOutputSerializer,
    NextItemOutputSerializer,
    SkipInputSerializer,
)
from arena.api import THROTTLED, ArenaApi
from arena.throttles import BattleCreateThrottle
from core.api import ErrorSerializer
from core.parsers import UnreadBodyParser

TAG = "campaigns"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


NOT_FOUND = _error("campaign_not_found: no campaign has this slug.")
CLOSED = _error("campaign_closed: the campaign is not open (a draft, or closed).")
NOT_A_MEMBER = _error("not_a_member: join through the invite or study link first; permission_denied: CSRF.")


def _member(request: Request, slug: str) -> CampaignRater:
    campaign = campaign_for_rater(slug, open_only=False)
    member = member_for_request(request, campaign=campaign)
    if member is None:
        raise NotAMember()
    return member


def next_item_answer(member: CampaignRater) -> dict[str, Any]:
    """The member's item (their live lease, or a new one) as NextItemOutputSerializer takes it."""
    item = assignment_next(member=member)
    member.refresh_from_db()
    if item.assignment is None:
        return {"done": True, "kind": None, "battle": None, "progress": None, "completion": member.campaign}
    practice = item.assignment.kind == CampaignPair.Kind.PRACTICE
    return {
        "done": False,
        "kind": "practice" if practice else "item",
        "battle": item.assignment.battle,
        "progress": member_progress(member=member, current=item.assignment),
        "completion": None,
    }


class CampaignJoinApi(ArenaApi):
    throttle_classes = [BattleCreateThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="campaign_join",
        summary="Join a campaign by invite token or crowd-platform ids",
        description=(
            "Makes the requesting browser (or account) a rater of the campaign. Either the campaign's invite token, "
            "or a crowd-platform participant id when the campaign takes one (its link carries e.g. PROLIFIC_PID, "
            "STUDY_ID, SESSION_ID). The same participant id again resumes the same membership, also from another "
            "browser (the session is attached to that member's anonymous rater; a participant id held by a "
            "signed-in account is refused)."
        ),
        request=JoinInputSerializer,
        responses={
            201: MemberOutputSerializer,
            200: OpenApiResponse(MemberOutputSerializer, description="Already a member (or resumed)."),
            400: _error("invalid_input: a field is malformed."),
            403: _error("invite_invalid: no valid invite token or participant id; crowd_id_taken: the participant "
                        "id belongs to an account, or this browser is another participant; permission_denied."),
            404: NOT_FOUND,
            410: CLOSED,
            429: THROTTLED,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        incoming = JoinInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        campaign = campaign_for_rater(slug)
        crowd = _crowd_ids(campaign, data)
        member, created = member_join_for_request(request, campaign=campaign, invite=data["invite"], crowd=crowd)
        return Response(MemberOutputSerializer(member).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _crowd_ids(campaign: Campaign, data: dict[str, str]) -> CrowdIds | None:
    if not data["crowd_id"] or not campaign.crowd_id_param:
        return None
    return crowd_ids_make(participant=data["crowd_id"], study=data["crowd_study"], session=data["crowd_session"])


class CampaignConsentApi(ArenaApi):
    parser_classes = [UnreadBodyParser]

    @extend_schema(
        tags=[TAG],
        operation_id="campaign_consent",
        summary="Agree to the campaign's consent and instructions",
        description="Records when the rater agreed (the first time only). No body is needed.",
        request=None,
        responses={200: MemberOutputSerializer, 403: NOT_A_MEMBER, 404: NOT_FOUND, 410: CLOSED, 429: THROTTLED},
    )
    def post(self, request: Request, slug: str) -> Response:
        member = _member(request, slug)
        campaign_for_rater(slug)
        return Response(MemberOutputSerializer(member_consent(member=member)).data)


class CampaignNextApi(ArenaApi):
    parser_classes = [UnreadBodyParser]

    @extend_schema(
        tags=[TAG],
        operation_id="campaign_next",
        summary="Your current item, or the next one",
        description=(
            "Answers the item the rater holds (asking again returns the same one until it is voted, skipped or its "
            "lease runs out) or leases a new one: practice items first, then the campaign's pairs with gold checks "
            "mixed in. `battle` is an arena battle: fetch its audio, report listening and vote through "
            "/api/battles/<id>/… (send `next: false`; then ask here again). `kind` is only `practice` or `item`. "
            "When nothing is left, `done` is true and `completion` holds the code and the redirect URL. No body."
        ),
        request=None,
        responses={
            200: NextItemOutputSerializer,
            403: _error("consent_required: agree to the consent first; not_a_member; permission_denied."),
            404: NOT_FOUND,
            410: CLOSED,
            429: THROTTLED,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        member = _member(request, slug)
        answer = next_item_answer(member)
        context = {"request": request, "axes": member.campaign.axes}
        return Response(NextItemOutputSerializer(answer, context=context).data)


class CampaignSkipApi(ArenaApi):
    @extend_schema(
        tags=[TAG],
        operation_id="campaign_skip",
        summary="Skip your current item, with a reason",
        description=(
            "Gives the item back (its pair returns to the pool; this rater never gets it again) with one of the "
            f"reasons {', '.join(value for value, _ in SKIP_REASONS)} and an optional note. Then ask /next/."
        ),
        request=SkipInputSerializer,
        responses={
            204: OpenApiResponse(description="Skipped."),
            400: _error("invalid_input: a field is malformed."),
            403: NOT_A_MEMBER,
            404: NOT_FOUND,
            409: _error("lease_lost: the battle is not your current item (voted, skipped or run out)."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        incoming = SkipInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        member = _member(request, slug)
        label = dict(SKIP_REASONS)[data["reason"]]
        note = data["note"].strip()
        assignment_skip(member=member, battle_public_id=str(data["battle"]),
                        reason=f"{data['reason']}: {note}" if note else f"{data['reason']}: {label}")
        return Response(status=status.HTTP_204_NO_CONTENT)

