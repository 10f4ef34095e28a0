"""Raters joining a campaign (invite link or crowd-platform participant id), consenting, and what they are shown:
the rendered instructions, their progress, the completion code and the redirect to the crowd platform.

Session handling (which arena rater a browser is) stays in `annotation.joining`; this module takes raters.
"""
from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import markdown
import nh3
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from annotation.errors import CampaignClosed, CampaignNotFound, CrowdIdTaken, InviteInvalid
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater
from arena.models import Rater

Kind = CampaignPair.Kind
# Participant, study and session ids as crowd platforms send them (Prolific's are 24 hex digits).
CROWD_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,200}$")
COMPLETION_CODE_PARAM = "cc"
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}


@dataclass(frozen=True)
class CrowdIds:
    """The ids a crowd platform put in the study link: the participant (who the member is), study and session."""

    participant: str
    study: str = ""
    session: str = ""


def markdown_safe(text: str) -> str:
    """Markdown rendered to HTML, then cleaned with nh3: only formatting tags, no scripts, styles or event
    handlers, links limited to http(s)/mailto and opened with rel="noopener noreferrer"."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def campaign_for_rater(slug: str, *, open_only: bool = True) -> Campaign:
    """The campaign at /c/<slug>/; CampaignNotFound, or CampaignClosed when it takes no answers (a draft reads as
    not started yet)."""
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise CampaignNotFound()
    if open_only and campaign.status != Campaign.Status.OPEN:
        raise campaign_closed_error(campaign)
    return campaign


def campaign_closed_error(campaign: Campaign) -> CampaignClosed:
    if campaign.status == Campaign.Status.DRAFT:
        return CampaignClosed("This study has not started yet: try the link again later.")
    return CampaignClosed("This study is closed and takes no more answers. Thank you for your interest.")


def crowd_ids_from_query(campaign: Campaign, query: Mapping[str, str]) -> CrowdIds | None:
    """The crowd ids of a study link's query string under the campaign's parameter names; None when the link has
    no participant id (or the campaign takes none). InviteInvalid for an id that is not a plausible one."""
    if not campaign.crowd_id_param or not query.get(campaign.crowd_id_param):
        return None
    return crowd_ids_make(
        participant=query.get(campaign.crowd_id_param, ""),
        study=query.get(campaign.crowd_study_param, "") if campaign.crowd_study_param else "",
        session=query.get(campaign.crowd_session_param, "") if campaign.crowd_session_param else "",
    )


def crowd_ids_make(*, participant: str, study: str = "", session: str = "") -> CrowdIds:
    """CrowdIds from a link's values; InviteInvalid naming the first that is not a plausible id."""
    ids = CrowdIds(participant.strip(), study.strip(), session.strip())
    for name, value in (("participant id", ids.participant), ("study id", ids.study), ("session id", ids.session)):
        if (value or name == "participant id") and not CROWD_ID_RE.match(value):
            raise InviteInvalid(f"The link's {name} is not a valid id.", field=name)
    return ids


def credentials_check(*, campaign: Campaign, invite: str, crowd: CrowdIds | None) -> None:
    """InviteInvalid unless the link holds the campaign's invite token or a participant id the campaign takes."""
    if crowd is not None and campaign.crowd_id_param:
        return
    if invite and hmac.compare_digest(invite.encode(), campaign.invite_token.encode()):
        return
    raise InviteInvalid()


def member_of(*, campaign: Campaign, rater: Rater | None) -> CampaignRater | None:
    if rater is None:
        return None
    return CampaignRater.objects.filter(campaign=campaign, rater=rater).first()


def member_for_crowd_id(*, campaign: Campaign, crowd_id: str) -> CampaignRater | None:
    return CampaignRater.objects.select_related("rater").filter(campaign=campaign, crowd_id=crowd_id).first()


def member_join(*, campaign: Campaign, rater: Rater, crowd: CrowdIds | None = None) -> tuple[CampaignRater, bool]:
    """The rater's membership of the campaign, made if new; returns (member, created). A member who joined by
    invite and now comes with a participant id keeps it; CrowdIdTaken when the participant id belongs to another
    member (the caller resumes that member instead) or the rater already joined as another participant."""
    ids = {"crowd_id": crowd.participant, "crowd_study": crowd.study, "crowd_session": crowd.session} if crowd else {}
    try:
        with transaction.atomic():
            member, created = CampaignRater.objects.get_or_create(campaign=campaign, rater=rater, defaults=ids)
            if created or crowd is None:
                return member, created
            if member.crowd_id and member.crowd_id != crowd.participant:
                raise CrowdIdTaken("This browser already takes part in the study as another participant.")
            fields = [name for name, value in ids.items() if value and getattr(member, name) != value]
            for name in fields:
                setattr(member, name, ids[name])
            if fields:
                member.save(update_fields=fields)
            return member, False
    except IntegrityError as exc:
        # Two first requests of one browser raced, or the participant id was taken meanwhile: whoever holds it now
        # is answered by the caller's own look-up.
        existing = member_of(campaign=campaign, rater=rater)
        if existing is not None and (crowd is None or existing.crowd_id == crowd.participant):
            return existing, False
        raise CrowdIdTaken() from exc


def member_session_update(*, member: CampaignRater, crowd: CrowdIds) -> None:
    """A participant back with a new study session: keep the latest session id."""
    if crowd.session and crowd.session != member.crowd_session:
        CampaignRater.objects.filter(pk=member.pk).update(crowd_session=crowd.session)
        member.crowd_session = crowd.session


def member_consent(*, member: CampaignRater, now: datetime | None = None) -> CampaignRater:
    """Record that the member agreed to the consent and read the instructions (the first time only)."""
    now = now or timezone.now()
    CampaignRater.objects.filter(pk=member.pk, consented_at__isnull=True).update(consented_at=now)
    member.refresh_from_db(fields=["consented_at"])
    return member


def completion_redirect_url(campaign: Campaign) -> str | None:
    """Where a finished rater is sent: the campaign's completion URL with the code. A URL holding `{code}` gets
    it there; one ending in '=' (Prolific's `…/submissions/complete?cc=`) gets it appended; any other gets
    `cc=<code>` added to its query string. None when the campaign has no completion URL."""
    url = campaign.completion_url.strip()
    if not url:
        return None
    code = campaign.completion_code
    if "{code}" in url:
        return url.replace("{code}", code)
    if url.endswith("="):
        return url + code
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key != COMPLETION_CODE_PARAM]
    return urlunsplit(parts._replace(query=urlencode([*query, (COMPLETION_CODE_PARAM, code)])))


@dataclass(frozen=True)
class Progress:
    """Where a rater is: practice item n of N, or item n of about m (gold counted like any item)."""

    practice: bool
    number: int
    about: int


def member_progress(*, member: CampaignRater, current: Assignment | None) -> Progress:
    """The number of the member's current item and an estimate of their total.

    Gold items count as items (they must not stand out); the estimate is the items handled so far, this one, the
    regular pairs the member may still get and the gold the campaign's rate mixes in with them. While a gold item
    is shown, one regular pair is left out of the estimate as if it had been taken, so a gold item and a regular
    one show the same figures in the same state.
    """
    campaign = member.campaign
    if current is not None and current.kind == Kind.PRACTICE:
        return Progress(practice=True, number=member.practice_done + 1, about=campaign.practice_items)
    handled = Assignment.objects.filter(
        member=member, kind__in=[Kind.REGULAR, Kind.GOLD],
        status__in=[Assignment.Status.DONE, Assignment.Status.SKIPPED],
    ).count()
    seen = Assignment.objects.filter(pair=OuterRef("pk"), member=member)
    remaining = (
        CampaignPair.objects.filter(campaign=campaign, kind=Kind.REGULAR, votes_done__lt=F("overlap"))
        .exclude(Exists(seen)).count()
    )
    if current is not None and current.kind == Kind.GOLD:
        remaining = max(remaining - 1, 0)
    rate = min(campaign.gold_rate, 0.5)
    gold = math.floor(remaining * rate / (1 - rate) + 0.5) if remaining else 0
    shown = 1 if current is not None else 0
    return Progress(practice=False, number=handled + shown, about=handled + shown + remaining + gold)
