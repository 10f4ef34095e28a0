"""The arena's periodic sweep: expired open battles marked expired, anonymous raters with no vote and no open
battle pruned after EARSHOT_RATER_PRUNE_AFTER_SECONDS, expired sessions cleared; idempotent, run by beat and by
`manage.py sweep_arena`. The sweep takes `now`, so the tests move time instead of waiting for it."""
from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from arena.models import Battle, Rater, Vote
from arena.services.battles import battles_expire
from arena.services.raters import raters_prune
from arena.services.sweep import arena_sweep
from arena.tasks import arena_sweep as arena_sweep_task
from tests.factories import BattleFactory, RaterFactory
from tests.threads import needs_row_locks

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def prune_after_a_day(settings: Any) -> None:
    settings.EARSHOT_RATER_PRUNE_AFTER_SECONDS = 86400


@pytest.mark.django_db
def test_it_marks_open_battles_past_their_expiry_as_expired() -> None:
    now = timezone.now()
    past = BattleFactory(expires_at=now - timedelta(seconds=1))
    current = BattleFactory(expires_at=now + timedelta(minutes=5))
    voted = BattleFactory(expires_at=now - timedelta(seconds=1), status=Battle.Status.VOTED)
    abandoned = BattleFactory(expires_at=now - timedelta(seconds=1), status=Battle.Status.ABANDONED)

    assert battles_expire(now=now) == 1
    assert battles_expire(now=now) == 0

    statuses = dict(Battle.objects.values_list("pk", "status"))
    assert statuses == {past.pk: "expired", current.pk: "open", voted.pk: "voted", abandoned.pk: "abandoned"}


def voted_battle(rater: Rater) -> Battle:
    battle = BattleFactory(rater=rater, status=Battle.Status.VOTED)
    Vote.objects.create(battle=battle, rater=rater, system_a=battle.clip_a.system, system_b=battle.clip_b.system,
                        prompt=battle.prompt, choice="a")
    return battle


@pytest.mark.django_db
def test_it_prunes_old_anonymous_raters_with_nothing_to_show_and_their_closed_battles() -> None:
    idle = RaterFactory()
    idle_with_closed = RaterFactory()
    closed = [BattleFactory(rater=idle_with_closed, status=status)
              for status in (Battle.Status.ABANDONED, Battle.Status.EXPIRED)]
    voter = RaterFactory()
    voted_battle(voter)
    listening = RaterFactory()
    BattleFactory(rater=listening)
    member = RaterFactory(user=User.objects.create_user("member"))

    assert raters_prune(now=timezone.now() + DAY) == 2

    assert set(Rater.objects.all()) == {voter, listening, member}
    assert not Battle.objects.filter(pk__in=[battle.pk for battle in closed]).exists()
    assert idle.pk not in set(Rater.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_it_leaves_raters_younger_than_the_prune_age(settings: Any) -> None:
    RaterFactory()
    assert raters_prune(now=timezone.now() + DAY - timedelta(minutes=1)) == 0
    settings.EARSHOT_RATER_PRUNE_AFTER_SECONDS = 0
    assert raters_prune(now=timezone.now() + timedelta(seconds=1)) == 1


@pytest.mark.django_db
def test_a_browser_whose_rater_was_pruned_gets_a_new_one() -> None:
    from rest_framework.test import APIClient

    from tests.arena.arena_support import catalogue_rows

    catalogue_rows()
    client = APIClient()
    first = client.post("/api/battles/").json()
    Battle.objects.filter(public_id=first["id"]).update(status=Battle.Status.EXPIRED)
    assert raters_prune(now=timezone.now() + DAY) == 1
    assert client.post("/api/battles/").status_code == 201
    assert Rater.objects.count() == 1


@pytest.mark.django_db
def test_it_clears_expired_sessions_only() -> None:
    live, stale = SessionStore(), SessionStore()
    live["seen"] = stale["seen"] = 1
    live.create()
    stale.set_expiry(1)
    stale.create()
    Session.objects.filter(session_key=stale.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))

    arena_sweep(now=timezone.now())

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


@pytest.mark.django_db
def test_one_sweep_does_all_three_in_order_and_a_second_finds_nothing_left() -> None:
    now = timezone.now()
    rater = RaterFactory()
    BattleFactory(rater=rater, expires_at=now + timedelta(minutes=5))
    later = now + DAY + timedelta(minutes=10)
    # the battle expires in this run, which leaves its rater with nothing open: pruned in the same run
    first = arena_sweep(now=later)
    assert (first.battles_expired, first.raters_pruned) == (1, 1)
    second = arena_sweep(now=later)
    assert (second.battles_expired, second.raters_pruned) == (0, 0)
    assert not Rater.objects.exists()


@pytest.mark.django_db
def test_the_task_and_the_command_run_the_sweep() -> None:
    BattleFactory(expires_at=timezone.now() - timedelta(seconds=1))
    assert arena_sweep_task.apply().get() == {"battles_expired": 1, "raters_pruned": 0, "copies_deleted": 0}
    BattleFactory(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("sweep_arena", stdout=out)
    assert "1 battles expired, 0 raters pruned" in out.getvalue()


def test_beat_runs_the_sweep() -> None:
    schedule = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["arena.tasks.arena_sweep"] == django_settings.EARSHOT_SWEEP_SECONDS


@pytest.mark.django_db(transaction=True)
@needs_row_locks
def test_a_rater_locked_by_a_battle_being_created_is_skipped_not_waited_for() -> None:
    """battle_create locks the rater before it inserts; the prune skips such a rater rather than delete it under
    a battle about to exist."""
    rater = RaterFactory()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                Rater.objects.select_for_update().get(pk=rater.pk)
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(60)
        assert raters_prune(now=timezone.now() + DAY) == 0
    finally:
        release.set()
        holder.join(60)
    assert raters_prune(now=timezone.now() + DAY) == 1
