"""A campaign's rater pages under /c/<slug>/: joining by link, consent and instructions, the listening page (the
arena's page in campaign mode) and the completion page with its code and redirect."""
from __future__ import annotations

from typing import Any, cast

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import Throttled
from rest_framework.request import Request

from annotation.errors import CrowdIdTaken, InviteInvalid, TooManyNewRaters
from annotation.joining import joining_needs_new_rater, member_for_request, member_join_for_request
from annotation.membership import (
    campaign_closed_error,
    completion_redirect_url,
    crowd_ids_from_query,
    markdown_safe,
    member_consent,
)
from annotation.models import Campaign, CampaignRater
from annotation.rater_serializers import SKIP_REASONS
from arena.throttles import BattleCreateThrottle
from arena.views import arena_page_context
from core.axes import VOTE_AXES
from core.errors import EarshotError

# Seconds the completion page shows the code before it sends the rater on to the crowd platform.
COMPLETION_REDIRECT_SECONDS = 5
NO_INVITE = (
    "This study is by invitation: open it through the link you were given (the invite link, or the study link of "
    "the crowd platform you came from)."
)


def _campaign(slug: str) -> Campaign:
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _notice(request: HttpRequest, campaign: Campaign, error: EarshotError, *, title: str) -> HttpResponse:
    return render(request, "annotation/notice.html",
                  {"campaign": campaign, "title": title, "message": error.message, "code": error.code},
                  status=error.status)


def _closed(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    return _notice(request, campaign, campaign_closed_error(campaign), title="This study is not open")


def _refused(request: HttpRequest, campaign: Campaign, error: EarshotError) -> HttpResponse:
    return _notice(request, campaign, error, title="You cannot join this study with this link")


def _new_rater_allowed(request: HttpRequest) -> bool:
    """The arena's limit on new anonymous raters per address (and its request limits), for a join that makes one."""
    try:
        return BattleCreateThrottle().allow_request(cast(Request, request), cast(Any, None))
    except Throttled:
        return False


@require_GET
@ensure_csrf_cookie
def campaign_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Join by link (then redirect to the bare address), or the member's step: consent, items, or done."""
    campaign = _campaign(slug)
    invite = request.GET.get("invite", "")
    try:
        crowd = crowd_ids_from_query(campaign, request.GET)
    except InviteInvalid as exc:
        return _refused(request, campaign, exc)
    if invite or crowd is not None:
        if campaign.status != Campaign.Status.OPEN:
            return _closed(request, campaign)
        if joining_needs_new_rater(request) and not _new_rater_allowed(request):
            return _notice(request, campaign, TooManyNewRaters(), title="Please try again later")
        try:
            member_join_for_request(request, campaign=campaign, invite=invite, crowd=crowd)
        except (InviteInvalid, CrowdIdTaken) as exc:
            return _refused(request, campaign, exc)
        # The bare address from here on: the token and ids leave the address bar and the history.
        return redirect("annotation:campaign", slug=campaign.slug)
    member = member_for_request(request, campaign=campaign)
    if member is None:
        if campaign.status != Campaign.Status.OPEN:
            return _closed(request, campaign)
        return _refused(request, campaign, InviteInvalid(NO_INVITE))
    if member.completed_at is not None:
        return redirect("annotation:campaign-done", slug=campaign.slug)
    if campaign.status != Campaign.Status.OPEN:
        return _closed(request, campaign)
    if member.consented_at is None:
        return render(request, "annotation/consent.html", {
            "campaign": campaign,
            "instructions_html": markdown_safe(campaign.instructions),
            "consent_html": markdown_safe(campaign.consent),
        })
    return render(request, "arena/arena.html", _listening_context(campaign, member))


def _listening_context(campaign: Campaign, member: CampaignRater) -> dict[str, Any]:
    context = arena_page_context()
    context.update({
        "campaign": campaign,
        "instructions_html": markdown_safe(campaign.instructions),
        "min_listen_seconds": campaign.min_listen_seconds,
        "axes": [axis for axis in VOTE_AXES if axis.value in campaign.axes],
        "next_url": reverse("annotation-api:campaign-next", kwargs={"slug": campaign.slug}),
        "skip_url": reverse("annotation-api:campaign-skip", kwargs={"slug": campaign.slug}),
        "done_url": reverse("annotation:campaign-done", kwargs={"slug": campaign.slug}),
        "skip_reasons": SKIP_REASONS,
    })
    return context


@require_POST
def campaign_consent(request: HttpRequest, slug: str) -> HttpResponse:
    """The consent page's "I agree" (a form POST, CSRF-checked by the middleware)."""
    campaign = _campaign(slug)
    member = member_for_request(request, campaign=campaign)
    if member is None:
        return _refused(request, campaign, InviteInvalid(NO_INVITE))
    if campaign.status != Campaign.Status.OPEN:
        return _closed(request, campaign)
    member_consent(member=member)
    return redirect("annotation:campaign", slug=campaign.slug)


@require_GET
def campaign_done(request: HttpRequest, slug: str) -> HttpResponse:
    """The completion code, and the crowd platform's completion URL with it (followed after a few seconds)."""
    campaign = _campaign(slug)
    member = member_for_request(request, campaign=campaign)
    if member is None:
        return _refused(request, campaign, InviteInvalid(NO_INVITE))
    if member.completed_at is None:
        return redirect("annotation:campaign", slug=campaign.slug)
    return render(request, "annotation/done.html", {
        "campaign": campaign,
        "member": member,
        "redirect_url": completion_redirect_url(campaign),
        "redirect_seconds": COMPLETION_REDIRECT_SECONDS,
    })
