"""Which arena rater a browser joins a campaign as: the session's own, a new anonymous one, or, for a crowd-platform
participant already joined from another browser, that member's rater (the session is attached to it).

Resuming by participant id is what crowd platforms expect (the participant opens the study link again, maybe on
another device), and it makes the participant id a bearer credential for the membership, as it is on the platform:
- only a member whose rater is anonymous is resumed; a participant id held by a signed-in account's rater is
  refused (CrowdIdTaken), and a signed-in user is never moved to another rater;
- the session key is rotated when the session changes rater (no session fixation), and the rater the session had
  before keeps its own votes and memberships;
- resuming gives nothing a second browser of the same participant would not have: the same one lease, the same
  never-the-same-pair-twice rule, the same counters.
"""
from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from annotation.errors import CrowdIdTaken
from annotation.membership import (
    CrowdIds,
    credentials_check,
    member_for_crowd_id,
    member_join,
    member_of,
    member_session_update,
)
from annotation.models import Campaign, CampaignRater
from arena.models import Rater
from arena.raters import SESSION_KEY, ip_hash_for_request, rater_for_request


def _signed_in(request: HttpRequest | Request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def _session_attach(request: HttpRequest | Request, rater: Rater) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = rater.pk


def _new_anonymous_rater(request: HttpRequest | Request) -> Rater:
    rater = Rater.objects.create(ip_hash=ip_hash_for_request(request))
    _session_attach(request, rater)
    return rater


def joining_needs_new_rater(request: HttpRequest | Request) -> bool:
    """Whether joining may create an anonymous rater (the caller then applies the arena's new-rater limit)."""
    return not _signed_in(request) and rater_for_request(request, create=False) is None


def member_join_for_request(
    request: HttpRequest | Request, *, campaign: Campaign, invite: str, crowd: CrowdIds | None
) -> tuple[CampaignRater, bool]:
    """Join the request's browser to the campaign with an invite token or crowd ids; returns (member, created).
    InviteInvalid without valid credentials; CrowdIdTaken as the module says."""
    credentials_check(campaign=campaign, invite=invite, crowd=crowd)
    current = rater_for_request(request, create=False)
    if crowd is None:
        return member_join(campaign=campaign, rater=current or rater_for_request(request))
    existing = member_for_crowd_id(campaign=campaign, crowd_id=crowd.participant)
    if existing is not None:
        if current is None or existing.rater_id != current.pk:
            if _signed_in(request) or existing.rater.user_id is not None:
                raise CrowdIdTaken()
            _session_attach(request, existing.rater)
        member_session_update(member=existing, crowd=crowd)
        return existing, False
    if current is not None:
        mine = member_of(campaign=campaign, rater=current)
        if mine is not None and mine.crowd_id and mine.crowd_id != crowd.participant:
            # One browser, a second participant (a shared computer): they get a rater of their own.
            if _signed_in(request):
                raise CrowdIdTaken("This account already takes part in the study as another participant.")
            current = None
    rater = current if current is not None else (
        rater_for_request(request) if _signed_in(request) else _new_anonymous_rater(request)
    )
    return member_join(campaign=campaign, rater=rater, crowd=crowd)


def member_for_request(request: HttpRequest | Request, *, campaign: Campaign) -> CampaignRater | None:
    """The request's membership of the campaign, or None (no rater yet, or not joined)."""
    return member_of(campaign=campaign, rater=rater_for_request(request, create=False))
