"""The campaigns' admin pages: every page renders, a campaign's settings are checked on the form, its links are shown
read only, the open/close actions, and the raters' override actions recorded with the acting admin."""
from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from annotation.assignment import assignment_next
from annotation.models import Assignment, Campaign, CampaignPair, CampaignRater, QualityDecision
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.annotation.quality_support import GOLD, gold_answer, gold_pairs_add, next_item
from tests.arena.arena_support import arena_isolated  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.django_db


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def campaign_form(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Strings study", "slug": "strings", "status": "draft", "instructions": "Listen to **both**.",
        "consent": "", "axes": ["overall", "musicality"], "practice_items": 0, "overlap": 3, "lease_minutes": 20,
        "min_listen_seconds": 5, "gold_rate": 0.1, "gold_threshold": 0.7, "gold_min_answers": 3,
        "fast_decision_seconds": 3, "invite_token": "tok-strings", "crowd_id_param": "PROLIFIC_PID",
        "crowd_study_param": "STUDY_ID", "crowd_session_param": "SESSION_ID", "completion_code": "C0FFEE",
        "completion_url": "https://app.prolific.com/submissions/complete?cc=C0FFEE", **fields,
    }


def test_every_campaign_page_renders(admin_client: Client) -> None:
    made = small_campaign(gold_rate=0.5)
    gold_pairs_add(made, 1)
    member = member_join(made.campaign, crowd_id="PID-1")
    gold_answer(next_item(member, kind=CampaignPair.Kind.GOLD, rng=GOLD), right=False)
    item_vote(assignment_next(member=member).assignment)  # type: ignore[arg-type]
    assignment_next(member=member)  # one live lease too
    pair, assignment = CampaignPair.objects.filter(kind="gold").get(), Assignment.objects.first()
    decision = QualityDecision.objects.get()
    assert assignment is not None

    listing = page(admin_client, "/admin/annotation/campaign/")
    assert "Pilot" in listing and "0/6" in listing  # no regular pair has its k votes yet
    add_page = page(admin_client, "/admin/annotation/campaign/add/")
    # A new campaign starts with the overall question ticked (it is always asked; the form refuses it missing).
    assert re.search(r'<input type="checkbox" name="axes" value="overall"[^>]*checked', add_page)
    page(admin_client, f"/admin/annotation/campaign/{made.campaign.pk}/change/")
    assert "PID-1" in page(admin_client, "/admin/annotation/campaignrater/")
    rater_page = page(admin_client, f"/admin/annotation/campaignrater/{member.pk}/change/")
    assert "1 of 1 gold answers wrong" in rater_page  # the decisions inline
    assert "Gold accuracy below the threshold" not in rater_page  # one answer: the threshold waits for three
    for url in ("/admin/annotation/campaignpair/", "/admin/annotation/campaignpair/?kind__exact=gold",
                f"/admin/annotation/campaignpair/?campaign__id__exact={made.campaign.pk}",
                f"/admin/annotation/campaignpair/{pair.pk}/change/",
                "/admin/annotation/assignment/", f"/admin/annotation/assignment/{assignment.pk}/change/",
                "/admin/annotation/qualitydecision/", f"/admin/annotation/qualitydecision/{decision.pk}/change/"):
        page(admin_client, url)
    assert "clipped at -30 dBFS" in page(admin_client, f"/admin/annotation/campaignpair/{pair.pk}/change/")
    flagged = page(admin_client, "/admin/annotation/campaignrater/?flag=failed_gold")
    assert "PID-1" in flagged and "Failed a gold item" in flagged
    assert "PID-1" not in page(admin_client, "/admin/annotation/campaignrater/?flag=fast")
    assert "PID-1" in page(admin_client, "/admin/annotation/campaignrater/?flag=any")
    # Read only: no adding pairs or leases by hand.
    assert admin_client.get("/admin/annotation/campaignpair/add/").status_code == 403
    assert admin_client.get("/admin/annotation/assignment/add/").status_code == 403


def test_the_pairs_done_count_follows_the_votes(admin_client: Client) -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1)
    item_vote(assignment_next(member=member_join(made.campaign)).assignment)  # type: ignore[arg-type]
    listing = page(admin_client, "/admin/annotation/campaign/")
    assert "1/1" in listing


def test_a_campaign_made_on_the_form_shows_its_invite_and_crowd_links(admin_client: Client, admin_user: User) -> None:
    response = admin_client.post("/admin/annotation/campaign/add/", campaign_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(slug="strings")
    assert campaign.axes == ["overall", "musicality"] and campaign.created_by == admin_user
    text = html.unescape(page(admin_client, f"/admin/annotation/campaign/{campaign.pk}/change/"))
    assert "http://testserver/c/strings/?invite=tok-strings" in text
    assert ("http://testserver/c/strings/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}"
            "&SESSION_ID={{%SESSION_ID%}}") in text


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"axes": ["musicality"]}, "axes", "always asked"),
    ({"crowd_id_param": ""}, "crowd_id_param", "come with a participant id parameter"),
    ({"completion_url": "ftp://example.org/done"}, "completion_url", "http:// or https://"),
])
def test_the_form_refuses_bad_settings_with_the_reason(
    admin_client: Client, fields: dict[str, Any], field: str, words: str
) -> None:
    response = admin_client.post("/admin/annotation/campaign/add/", campaign_form(**fields))
    assert response.status_code == 200
    assert words in response.context["adminform"].form.errors[field][0]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(("axes", "words"), [
    (["overall", "tempo"], "Unknown axes tempo"),
    (["prompt_alignment"], "always asked"),
    (["overall", "overall"], "Each axis once"),
    ("overall", "Give a list"),
])
def test_clean_checks_the_axes(axes: Any, words: str) -> None:
    campaign = Campaign(name="x", slug="x", axes=axes)
    with pytest.raises(ValidationError) as caught:
        campaign.clean()
    assert words in caught.value.message_dict["axes"][0]


def test_clean_accepts_every_axis_and_no_crowd_platform() -> None:
    Campaign(name="x", slug="x", axes=["overall", "musicality", "prompt_alignment", "lyrics_alignment"]).clean()


def test_the_open_and_close_actions(admin_client: Client) -> None:
    made = small_campaign()
    Campaign.objects.filter(pk=made.campaign.pk).update(status=Campaign.Status.DRAFT)
    empty = Campaign.objects.create(name="Empty", slug="empty")
    url = "/admin/annotation/campaign/"
    response = admin_client.post(url, {"action": "campaign_open", "_selected_action": [made.campaign.pk, empty.pk]},
                                 follow=True)
    text = response.content.decode()
    assert "no pairs yet" in text and "Empty" in text and "1 campaign(s) opened" in text
    assert dict(Campaign.objects.values_list("slug", "status")) == {"pilot": "open", "empty": "draft"}
    admin_client.post(url, {"action": "campaign_close", "_selected_action": [made.campaign.pk]})
    assert Campaign.objects.get(pk=made.campaign.pk).status == Campaign.Status.CLOSED


def test_the_override_actions_record_the_acting_admin(admin_client: Client, admin_user: User) -> None:
    made = small_campaign()
    first, second = member_join(made.campaign), member_join(made.campaign)
    url = "/admin/annotation/campaignrater/"
    for action, override, excluded in (("always_leave_out", "exclude", True), ("always_count", "include", False),
                                       ("automatic", "", False)):
        response = admin_client.post(url, {"action": action, "_selected_action": [first.pk, second.pk]})
        assert response.status_code == 302
        assert set(CampaignRater.objects.values_list("override", "excluded")) == {(override, excluded)}
    rows = QualityDecision.objects.filter(member=first).order_by("id")
    assert [row.action for row in rows] == ["override_exclude", "override_include", "override_automatic"]
    assert {row.decided_by for row in rows} == {admin_user}
    assert rows[0].reason == ("Admin: always left out (admin action on the campaign raters); now left out of the "
                              "campaign's boards and exports (flags: none)")
    assert QualityDecision.objects.filter(member=second).count() == 3
