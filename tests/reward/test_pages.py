"""The reward model's pages (rankings for staff, agreement) and the rule that web processes never import torch."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.test import Client

from reward.models import ClipScore
from tests.factories import ClipFactory, PromptFactory
from tests.reward.reward_support import version_make

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_the_ranking_pages_show_staff_the_clips_best_first(staff_client: Client, tmp_path: Path) -> None:
    version = version_make(tmp_path / "ckpt", active=True)
    prompt = PromptFactory(text="A slow waltz for strings")
    clips = [ClipFactory(prompt=prompt) for _ in range(2)]
    ClipScore.objects.create(version=version, clip=clips[0], axis="overall", score=-1.0)
    ClipScore.objects.create(version=version, clip=clips[1], axis="overall", score=1.0)
    listing = staff_client.get("/rankings/").content.decode()
    assert f"/prompts/{prompt.pk}/ranking/" in listing and "A slow waltz for strings" in listing
    html = staff_client.get(f"/prompts/{prompt.pk}/ranking/").content.decode()
    assert html.index(clips[1].public_id) < html.index(clips[0].public_id)
    assert clips[1].system.name in html
    assert "0.88" in html  # sigmoid(2) to two places: the top clip over the next


@pytest.mark.django_db
def test_the_ranking_pages_send_anonymous_visitors_to_log_in(client: Client) -> None:
    prompt = PromptFactory()
    for path in ("/rankings/", f"/prompts/{prompt.pk}/ranking/"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_an_unknown_prompt_page_is_a_404_with_a_message(staff_client: Client, tmp_path: Path) -> None:
    version_make(tmp_path / "ckpt", active=True)
    response = staff_client.get("/prompts/999999/ranking/")
    assert response.status_code == 404 and "does not exist" in response.content.decode()


NO_TORCH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import config.asgi  # noqa: F401  (sets Django up the way the web process does)
    from django.test.utils import setup_test_environment
    setup_test_environment()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases
    databases = setup_databases(verbosity=0, interactive=False, keepdb=False)
    import uuid
    from config.celery import app
    # Activations queue real tasks: send them to a queue of this run alone and purge it at the end.
    queue = f"earshot-notorch-{uuid.uuid4().hex[:12]}"
    app.conf.task_default_queue = queue
    app.conf.task_routes = {"*": {"queue": queue}}
    from reward.models import AgreementReport, ClipScore, RewardModelVersion
    from tests.factories import ClipFactory, PromptFactory
    version = RewardModelVersion.objects.create(name="v", class_path="x.Y", path="/nowhere", sha256="0" * 64,
                                                active=True)
    other = RewardModelVersion.objects.create(name="w", class_path="x.Y", path="/nowhere", sha256="1" * 64)
    prompt = PromptFactory()
    clip = ClipFactory(prompt=prompt)
    ClipScore.objects.create(version=version, clip=clip, axis="overall", score=0.5)
    AgreementReport.objects.create(version=version, figures={"axes": {}, "anchoring": {}}, vote_count=0)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("admin", "a@example.org", "x"))
    for path in ["/agreement/", "/rankings/", f"/prompts/{prompt.pk}/ranking/", "/api/agreement/",
                 f"/api/prompts/{prompt.pk}/ranking/", "/api/reward-models/",
                 "/admin/reward/rewardmodelversion/", "/admin/reward/clipscore/",
                 "/admin/reward/agreementreport/",
                 f"/admin/reward/agreementreport/{AgreementReport.objects.get().pk}/change/"]:
        status = staff.get(path).status_code
        assert status == 200, (path, status)
    assert staff.post(f"/api/reward-models/{other.pk}/activate/").status_code == 200
    assert staff.post("/admin/reward/rewardmodelversion/", {"action": "activate_version",
                      "_selected_action": [version.pk]}).status_code == 302
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    loaded = sorted(name for name in sys.modules if name == "torch" or name.startswith("torch."))
    print("TORCH_MODULES", len(loaded))
    assert not loaded, loaded[:5]
    from django.db import connections
    connections.close_all()
    teardown_databases(databases, verbosity=0)
    """
)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs PostgreSQL")
def test_the_web_process_never_imports_torch_to_serve_the_reward_pages_and_api() -> None:
    """A fresh interpreter imports config.asgi and calls every page, API and admin view of the reward model."""
    env = dict(os.environ)
    # A test database of its own, so this subprocess never touches the one pytest made for the other tests.
    base = env["DATABASE_URL"].rsplit("/", 1)[0]
    env["DATABASE_URL"] = f"{base}/earshot_notorch"
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "TORCH_MODULES 0" in result.stdout
