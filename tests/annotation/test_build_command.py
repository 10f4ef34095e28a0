"""The doors to building a campaign's pairs: `manage.py build_campaign` (progress bar, summary, clear refusals) and
the admin's "Build pairs…" action, which queues the build as a Celery task (run inline by eager Celery here)."""
from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.test import RequestFactory

from annotation import admin_build, pairs
from annotation.models import Campaign, CampaignPair, GoldPair
from arena.models import Clip, Prompt, System
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401
from tests.factories import ClipFactory, PromptFactory, SystemFactory

pytestmark = pytest.mark.django_db
Capture = Callable[..., Any]  # pytest-django's django_capture_on_commit_callbacks


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery as the embedded demo runs it: the worker's task in the process that queues it."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def rows(systems: int, prompts: int) -> tuple[list[System], list[Prompt]]:
    made_systems = [SystemFactory() for _ in range(systems)]
    made_prompts = [PromptFactory() for _ in range(prompts)]
    for system, prompt in itertools.product(made_systems, made_prompts):
        ClipFactory(system=system, prompt=prompt)
    return made_systems, made_prompts


def build(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("build_campaign", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_builds_a_balanced_design_and_prints_its_summary() -> None:
    systems, prompts = rows(4, 3)
    Clip.objects.filter(prompt=prompts[2], system=systems[3]).update(active=False)
    campaign = Campaign.objects.create(name="Study", slug="study")
    out, err = build("study", "--prompts", f"{prompts[0].pk},{prompts[1].pk}", str(prompts[2].pk),
                     "--systems", *[s.slug for s in systems], "--design", "balanced", "--pairs-per-prompt", "2",
                     "--practice", "1")
    assert out.splitlines() == [
        "made 6 regular, 0 gold, 1 practice",
        "skipped 3 (no active clip of the system)",
        f"note: prompt {prompts[2].pk} has no active clip of {systems[3].slug}: 3 pair(s) not made",
        "note: the campaign now shows 1 practice item(s) first",
    ]
    assert "pairs" in err and "100%" in err  # the progress bar, on stderr
    assert campaign.pairs.filter(kind=CampaignPair.Kind.REGULAR).count() == 6
    again, _ = build("study", "--prompts", f"{prompts[0].pk},{prompts[1].pk}", str(prompts[2].pk), "--systems",
                     *[s.slug for s in systems], "--design", "balanced", "--pairs-per-prompt", "2", "--practice",
                     "1", "--no-progress")
    assert again.splitlines()[:2] == ["made 0 regular, 0 gold, 0 practice",
                                      "skipped 6 (already in the campaign), 3 (no active clip of the system)"]


@pytest.mark.parametrize(("args", "message"), [
    (["ghost", "--all-prompts"], "No campaign 'ghost'"),
    (["study"], "choose the prompts"),
    (["study", "--prompts", "999999"], "no prompt with id 999999"),
    (["study", "--all-prompts", "--systems", "nobody"], "no system 'nobody'"),
    (["study", "--all-prompts", "--design", "balanced"], "the balanced design needs pairs per prompt"),
    (["study", "--all-prompts", "--top-k", "1"], "top-k must keep at least 2"),
    (["study", "--all-prompts", "--rank", "reward"], "no active reward model"),
    (["study", "--prompts", "x"], "--prompts takes prompt ids"),
])
def test_the_command_refuses_bad_options_with_a_clear_message(args: list[str], message: str) -> None:
    rows(2, 1)
    Campaign.objects.create(name="Study", slug="study")
    with pytest.raises(CommandError, match=message):
        build(*args, "--no-progress")
    assert not CampaignPair.objects.exists()


def test_the_command_refuses_a_list_with_a_bad_line_and_writes_nothing(tmp_path: Path) -> None:
    systems, prompts = rows(2, 1)
    Campaign.objects.create(name="Study", slug="study")
    path = tmp_path / "pairs.csv"
    path.write_text(f"prompt_id,system_a,system_b\n{prompts[0].pk},{systems[0].slug},{systems[1].slug}\n"
                    f"{prompts[0].pk},{systems[0].slug},{systems[0].slug}\n")
    with pytest.raises(CommandError) as refused:
        build("study", "--from", str(path), "--no-progress")
    assert str(refused.value) == (
        "pairs.csv: 1 bad line(s), nothing written:\nline 3: clip_a and clip_b are the same clip"
    )
    assert not CampaignPair.objects.exists()
    path.write_text(f"prompt_id,system_a,system_b\n{prompts[0].pk},{systems[1].slug},{systems[0].slug}\n")
    out, _ = build("study", "--from", str(path), "--no-progress")
    assert out.splitlines() == ["made 1 regular, 0 gold, 0 practice"]


# --- the admin action ------------------------------------------------------------------------------------------


def admin_request(data: dict[str, Any]) -> HttpRequest:
    request = RequestFactory().post("/admin/annotation/campaign/", data)
    request.user = User.objects.create_superuser("boss", "boss@example.org", "pw")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def campaign_admin() -> admin.ModelAdmin:
    """The project's Campaign admin, which lists the action."""
    registered = admin.site._registry[Campaign]
    assert admin_build.build_pairs in registered.actions
    return registered


def test_the_admin_action_shows_its_form_first() -> None:
    rows(2, 1)
    campaign = Campaign.objects.create(name="Study", slug="study")
    request = admin_request({"action": "build_pairs", "_selected_action": [campaign.pk]})
    response = admin_build.build_pairs(campaign_admin(), request, Campaign.objects.all())
    assert isinstance(response, TemplateResponse)
    page = response.render().content.decode()
    for name in ("prompt_ids", "all_prompts", "systems", "design", "pairs_per_prompt", "rank", "top_k", "gold",
                 "practice"):
        assert f'name="{name}"' in page
    assert 'name="apply"' in page and "Study" in page
    assert not CampaignPair.objects.exists()
    assert dict(admin_build.DESIGN_CHOICES).keys() == set(pairs.DESIGNS)
    assert dict(admin_build.RANK_CHOICES).keys() == set(pairs.RANKS)


def test_the_admin_action_form_refuses_inconsistent_options() -> None:
    campaign = Campaign.objects.create(name="Study", slug="study")
    request = admin_request({"action": "build_pairs", "_selected_action": [campaign.pk], "apply": "yes",
                             "design": "balanced", "rank": "none", "gold": "0", "practice": "0"})
    response = admin_build.build_pairs(campaign_admin(), request, Campaign.objects.all())
    assert isinstance(response, TemplateResponse)
    form = response.context_data["form"]  # type: ignore[index]
    assert "Give prompt ids or tick 'all prompts'." in form.non_field_errors()
    assert form.errors["pairs_per_prompt"] == ["The balanced design needs pairs per prompt."]


@pytest.mark.usefixtures("eager_celery")
def test_the_admin_action_queues_the_build_and_eager_celery_runs_it(
    tmp_path: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=1, seconds=1.0)
    campaign = Campaign.objects.create(name="Study", slug="study")
    request = admin_request({
        "action": "build_pairs", "_selected_action": [campaign.pk], "apply": "yes",
        "prompt_ids": str(catalogue.prompts[0].pk), "systems": [s.pk for s in catalogue.systems[:2]],
        "design": "all", "rank": "none", "gold": "1", "practice": "0",
    })
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert admin_build.build_pairs(campaign_admin(), request, Campaign.objects.all()) is None
    assert [str(message) for message in get_messages(request)] == [
        "Build queued for Study: the pairs appear as the worker makes them."
    ]
    assert len(queued) == 1 and not CampaignPair.objects.exists()  # queued after commit, nothing built yet
    with django_capture_on_commit_callbacks(execute=True):
        queued[0]()
    assert campaign.pairs.filter(kind=CampaignPair.Kind.REGULAR).count() == 1
    gold = GoldPair.objects.get(pair__campaign=campaign)
    assert not gold.damaged_clip.active
