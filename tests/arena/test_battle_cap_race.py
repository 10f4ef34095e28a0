"""Two battle_create calls of one rater at the same moment, on PostgreSQL with real threads and connections.

Each call inserts its battle and then closes the open battles beyond the cap. Both calls are held at that point
until the other one either reaches it too or waits on a lock, so the race happens every time. Without the guard
(the rater's row lock taken first), neither sees the other's uncommitted battle: both close the same oldest one and
the rater ends with one battle over the cap. With it, the second call waits for the first to commit and closes one
more.
"""
from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

import arena.services.battles as battles_module
from arena.models import Battle, Rater
from arena.services import battle_create
from tests.arena.arena_support import arena_isolated, catalogue_rows  # noqa: F401 - autouse fixture
from tests.factories import RaterFactory
from tests.threads import needs_row_locks, run_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_row_locks,
]
CAP = 3
WAIT_SECONDS = 60  # only a bound for a broken run; the meeting itself needs no time to pass


class Meeting:
    """Holds the first call at the meeting point until the second reaches it too or waits on a lock."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.arrived = 0
        self.pids: dict[int, int] = {}  # thread ident → PostgreSQL backend pid

    def register(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with self.condition:
            self.pids[threading.get_ident()] = pid
            self.condition.notify_all()

    def _other_waits_on_a_lock(self) -> bool:
        others = [pid for ident, pid in self.pids.items() if ident != threading.get_ident()]
        with connection.cursor() as cursor:  # pg_locks is read live, not from a transaction's snapshot
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = ANY(%s) AND NOT granted", [others])
            return cursor.fetchone()[0] > 0

    def point(self) -> None:
        with self.condition:
            self.arrived += 1
            if self.arrived > 1:
                self.condition.notify_all()
                return
            waited = 0.0
            while self.arrived < 2 and not self._other_waits_on_a_lock():
                assert waited < WAIT_SECONDS, "the other call neither arrived nor waited on a lock"
                self.condition.wait(0.02)
                waited += 0.02


def race(rater: Rater, monkeypatch: pytest.MonkeyPatch, *, guarded: bool) -> None:
    meeting = Meeting()
    abandon = battles_module.battles_abandon_beyond_cap

    def abandon_after_meeting(**kwargs: Any) -> int:
        meeting.point()
        return abandon(**kwargs)

    monkeypatch.setattr(battles_module, "battles_abandon_beyond_cap", abandon_after_meeting)
    if not guarded:
        monkeypatch.setattr(battles_module, "_rater_lock", lambda **kwargs: True)
    both_registered = threading.Barrier(2, timeout=WAIT_SECONDS)

    def create(_: int) -> None:
        meeting.register()
        both_registered.wait()
        battle_create(rater=Rater.objects.get(pk=rater.pk))

    run_threads(create, 2, timeout=WAIT_SECONDS * 2)


def rater_at_the_cap(settings: Any) -> Rater:
    settings.EARSHOT_MAX_OPEN_BATTLES = CAP
    catalogue_rows()
    rater = RaterFactory()
    for _ in range(CAP):
        battle_create(rater=rater)
    return rater


def open_count(rater: Rater) -> int:
    return Battle.objects.filter(rater=rater, status=Battle.Status.OPEN).count()


def test_without_the_rater_lock_two_creates_leave_one_battle_over_the_cap(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rater = rater_at_the_cap(settings)
    race(rater, monkeypatch, guarded=False)
    assert open_count(rater) == CAP + 1
    assert Battle.objects.filter(rater=rater, status=Battle.Status.ABANDONED).count() == 1


def test_with_the_rater_lock_two_creates_leave_the_cap(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rater = rater_at_the_cap(settings)
    race(rater, monkeypatch, guarded=True)
    assert open_count(rater) == CAP
    assert Battle.objects.filter(rater=rater, status=Battle.Status.ABANDONED).count() == 2
    rater.refresh_from_db()
    assert (rater.battles_opened, rater.battles_abandoned) == (CAP + 2, 2)
