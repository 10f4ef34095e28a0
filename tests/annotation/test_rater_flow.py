"""A campaign's rater pages as the server renders them: joining by link (invite or crowd-platform ids), the 403 and
closed pages, consent before items, sanitised Markdown, the listening page in campaign mode, and the completion
page with its code and redirect."""
from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from annotation.membership import completion_redirect_url, markdown_safe
from annotation.models import Campaign, CampaignRater
from arena.raters import SESSION_KEY
from tests.annotation.campaign_support import small_campaign
from tests.annotation.test_rater_api import api, listen_and_vote, next_item
from tests.arena.arena_support import arena_isolated  # noqa: F401
from tests.arena.test_arena_page import parse

pytestmark = pytest.mark.django_db

HOSTILE = """# Welcome

<script>alert("instructions")</script>
Listen <b onmouseover="steal()">carefully</b>. <img src=x onerror="steal()">
[our terms](https://example.org/terms) and [a trap](javascript:alert(1))
<a href="https://example.org/x" onclick="steal()" target="_blank">more</a>
<iframe src="https://evil.example"></iframe><style>body{display:none}</style>
"""
PROLIFIC = {"crowd_id_param": "PROLIFIC_PID", "crowd_study_param": "STUDY_ID", "crowd_session_param": "SESSION_ID"}


def csrf_client() -> APIClient:
    """A browser-like client: CSRF is checked on every POST, as the middleware does for real browsers (consent()
    then sends the token with every later request, as the page's scripts do)."""
    return APIClient(enforce_csrf_checks=True)


def consent(client: APIClient, slug: str = "pilot") -> Any:
    page = client.get(f"/c/{slug}/")
    assert page.status_code == 200 and b'id="consent-agree"' in page.content
    token = client.cookies["csrftoken"].value
    refused = client.post(f"/c/{slug}/consent/")
    assert refused.status_code == 403  # no CSRF token
    agreed = client.post(f"/c/{slug}/consent/", {"csrfmiddlewaretoken": token})
    client.defaults["HTTP_X_CSRFTOKEN"] = token
    return agreed


def test_an_invite_link_joins_then_consent_then_the_listening_page_in_campaign_mode() -> None:
    made = small_campaign(consent="I agree.", instructions="Judge **musicality**.",
                          axes=["overall", "musicality"])
    client = csrf_client()
    joined = client.get(f"/c/pilot/?invite={made.campaign.invite_token}")
    assert joined.status_code == 302 and joined["Location"] == "/c/pilot/"
    member = CampaignRater.objects.get()
    assert member.rater_id == client.session[SESSION_KEY] and member.consented_at is None
    page = client.get("/c/pilot/")
    assert b"<strong>musicality</strong>" in page.content and b"<p>I agree.</p>" in page.content
    assert b'data-mode="campaign"' not in page.content  # not the listening page before consent
    assert consent(client)["Location"] == "/c/pilot/"
    member.refresh_from_db()
    assert member.consented_at is not None

    listening = client.get("/c/pilot/")
    assert listening.status_code == 200
    html = parse(listening.content.decode())
    root = html.by_id("arena")[1]
    assert root["data-mode"] == "campaign"
    assert root["data-next-url"] == "/api/campaigns/pilot/next/"
    assert root["data-skip-url"] == "/api/campaigns/pilot/skip/"
    assert root["data-done-url"] == "/c/pilot/done/"
    assert root["data-min-listen-seconds"] == "1.0"
    assert html.by_id("axis-musicality") and "open" in html.by_id("vote-details")[1]
    with pytest.raises(AssertionError):
        html.by_id("axis-prompt_alignment")  # only the campaign's axes are asked
    assert [option[1]["value"] for option in html.elements if option[0] == "option"] == [
        "audio_problem", "cannot_judge", "unsuitable", "other"]
    assert b"Which systems made them stays hidden." in listening.content
    assert html.text_of(html.by_id("next-battle")).startswith("Next item")


def test_a_bad_or_missing_invite_gets_a_clear_403_page_and_joins_nobody() -> None:
    small_campaign()
    client = csrf_client()
    bad = client.get("/c/pilot/?invite=guessed")
    assert bad.status_code == 403
    assert b"This invite link is not valid for the campaign" in bad.content
    bare = client.get("/c/pilot/")
    assert bare.status_code == 403 and b"This study is by invitation" in bare.content
    assert client.get("/c/pilot/done/").status_code == 403
    assert client.get("/c/missing/").status_code == 404
    # No crowd parameter configured: a participant id alone is not a way in.
    assert client.get("/c/pilot/?PROLIFIC_PID=5f1e0c3a9b2d4e6f7a8b9c0d").status_code == 403
    assert not CampaignRater.objects.exists()


def test_closed_and_draft_campaigns_say_so() -> None:
    made = small_campaign()
    client = csrf_client()
    client.get(f"/c/pilot/?invite={made.campaign.invite_token}")
    Campaign.objects.filter(pk=made.campaign.pk).update(status=Campaign.Status.CLOSED)
    closed = client.get("/c/pilot/")
    assert closed.status_code == 410 and b"This study is closed" in closed.content
    assert csrf_client().get(f"/c/pilot/?invite={made.campaign.invite_token}").status_code == 410
    Campaign.objects.filter(pk=made.campaign.pk).update(status=Campaign.Status.DRAFT)
    assert b"has not started yet" in csrf_client().get("/c/pilot/").content


def test_hostile_markdown_is_rendered_without_scripts_handlers_or_dangerous_links() -> None:
    made = small_campaign(instructions=HOSTILE, consent=HOSTILE)
    html = markdown_safe(HOSTILE)
    assert "<h1>Welcome</h1>" in html and "<b>carefully</b>" in html
    for bad in ("<script", "alert(", "onmouseover", "onerror", "onclick", "javascript:", "<iframe", "<style",
                "steal", "target="):
        assert bad not in html, bad
    links = re.findall(r"<a [^>]*>", html)
    assert links and all('rel="noopener noreferrer"' in link for link in links)
    assert '<a href="https://example.org/terms" rel="noopener noreferrer">our terms</a>' in html

    client = csrf_client()
    client.get(f"/c/pilot/?invite={made.campaign.invite_token}")
    consent_page = client.get("/c/pilot/")
    consent(client)
    for page in (consent_page, client.get("/c/pilot/")):  # the consent page, then the listening page
        text = page.content.decode()
        assert "steal" not in text and "javascript:" not in text and "alert(" not in text
        scripts = parse(text).scripts
        assert all(attributes.get("type") in {"module", "importmap"} for attributes, _ in scripts)


def test_the_crowd_platform_round_trip_from_study_link_to_completion_code_and_redirect() -> None:
    made = small_campaign(systems=3, prompts=1, overlap=1, consent="I agree.",
                          completion_url="https://app.prolific.com/submissions/complete?cc=", **PROLIFIC)
    code = made.campaign.completion_code
    link = "/c/pilot/?PROLIFIC_PID=5f1e0c3a9b2d4e6f7a8b9c0d&STUDY_ID=64aa01&SESSION_ID=s-one"
    client = csrf_client()
    assert client.get(link)["Location"] == "/c/pilot/"
    member = CampaignRater.objects.get()
    assert (member.crowd_id, member.crowd_study, member.crowd_session) == ("5f1e0c3a9b2d4e6f7a8b9c0d", "64aa01",
                                                                           "s-one")
    consent(client)
    items = 0
    while not (item := next_item(client, "pilot"))["done"]:
        assert listen_and_vote(client, item["battle"]).status_code == 201
        items += 1
    assert items == 3
    assert item["completion"] == {"code": code,
                                  "redirect_url": f"https://app.prolific.com/submissions/complete?cc={code}"}
    assert client.get("/c/pilot/")["Location"] == "/c/pilot/done/"
    done = client.get("/c/pilot/done/")
    assert done.status_code == 200
    text = done.content.decode()
    assert f'<strong id="completion-code">{code}</strong>' in text
    redirect = f"https://app.prolific.com/submissions/complete?cc={code}"
    assert f'<meta http-equiv="refresh" content="5;url={redirect}">' in text
    assert f'href="{redirect}"' in text

    # The same participant from another browser (a new study session): the same member, whose rater it resumes.
    other = csrf_client()
    assert other.get(link.replace("s-one", "s-two"))["Location"] == "/c/pilot/"
    assert CampaignRater.objects.count() == 1
    member.refresh_from_db()
    assert other.session[SESSION_KEY] == member.rater_id and member.crowd_session == "s-two"
    assert other.get("/c/pilot/")["Location"] == "/c/pilot/done/"
    # A second participant on the first browser gets a membership (and rater) of their own.
    assert client.get("/c/pilot/?PROLIFIC_PID=aaaa1111&STUDY_ID=64aa01&SESSION_ID=s-3")["Location"] == "/c/pilot/"
    second = CampaignRater.objects.get(crowd_id="aaaa1111")
    assert second.rater_id != member.rater_id and client.session[SESSION_KEY] == second.rater_id
    assert b'id="consent-agree"' in client.get("/c/pilot/").content


def test_a_participant_id_held_by_an_account_is_not_taken_over_and_malformed_ids_are_refused() -> None:
    small_campaign(**PROLIFIC)
    account = csrf_client()
    account.force_login(User.objects.create_user("listener"))
    assert account.get("/c/pilot/?PROLIFIC_PID=abc123")["Location"] == "/c/pilot/"
    assert CampaignRater.objects.get().rater.user is not None
    thief = csrf_client()
    taken = thief.get("/c/pilot/?PROLIFIC_PID=abc123")
    assert taken.status_code == 403 and SESSION_KEY not in thief.session
    malformed = thief.get("/c/pilot/?PROLIFIC_PID=%3Cscript%3E")
    assert malformed.status_code == 403 and b"participant id is not a valid id" in malformed.content
    assert CampaignRater.objects.count() == 1


def test_the_done_page_waits_for_the_last_item_and_the_api_join_takes_crowd_ids() -> None:
    made = small_campaign(systems=2, prompts=1, overlap=1, **PROLIFIC)
    client = APIClient()
    joined = api(client, "pilot", "join", {"crowd_id": "p-1", "crowd_study": "s", "crowd_session": "x"})
    assert joined.status_code == 201
    assert CampaignRater.objects.get().crowd_id == "p-1"
    assert client.get("/c/pilot/done/")["Location"] == "/c/pilot/"
    assert made.campaign.completion_url == ""
    assert api(client, "pilot", "consent").status_code == 200
    assert listen_and_vote(client, next_item(client, "pilot")["battle"]).status_code == 201
    assert next_item(client, "pilot")["completion"]["redirect_url"] is None
    done = client.get("/c/pilot/done/")
    assert done.status_code == 200 and b"http-equiv" not in done.content


@pytest.mark.parametrize(("url", "expected"), [
    ("https://app.prolific.com/submissions/complete?cc=", "https://app.prolific.com/submissions/complete?cc=C0DE"),
    ("https://example.org/finish/{code}/", "https://example.org/finish/C0DE/"),
    ("https://example.org/finish?study=7", "https://example.org/finish?study=7&cc=C0DE"),
    ("https://example.org/finish", "https://example.org/finish?cc=C0DE"),
    ("", None),
])
def test_the_completion_url_takes_the_code(url: str, expected: str | None) -> None:
    assert completion_redirect_url(Campaign(completion_url=url, completion_code="C0DE")) == expected


def test_joining_by_link_counts_against_the_arenas_limit_on_new_raters_per_address(settings: Any) -> None:
    made = small_campaign()
    settings.EARSHOT_NEW_RATERS_PER_IP = "2/hour"
    link = f"/c/pilot/?invite={made.campaign.invite_token}"
    assert [csrf_client().get(link).status_code for _ in range(2)] == [302, 302]
    refused = csrf_client().get(link)
    assert refused.status_code == 429 and b"Too many new raters" in refused.content
    assert CampaignRater.objects.count() == 2
