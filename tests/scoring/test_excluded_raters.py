"""Raters an admin left out of the boards: their votes stay stored but no leaderboard counts them, and leaving one
out queues a full recompute that a real worker runs after the commit."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from arena.models import Choice, System, Vote
from arena.services.raters import raters_board_exclusion_set
from scoring.scopes import scope_parse
from scoring.selectors import scope_battle_rows, scope_pair_tallies, snapshot_current
from scoring.services import leaderboard_recompute_run, snapshot_compute
from tests.factories import RaterFactory, SystemFactory

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]


def two_raters_votes(writer: VoteWriter) -> tuple[System, System, Any]:
    """An honest rater: a beats b three times. A throwaway rater: b beats a five times (and one tie)."""
    a, b = SystemFactory(), SystemFactory()
    writer.cast([(a, b, Choice.A)] * 3)
    honest = writer.rater
    writer.rater = RaterFactory()
    writer.cast([(a, b, Choice.B)] * 5 + [(b, a, Choice.TIE)])
    writer.rater, throwaway = honest, writer.rater
    return a, b, throwaway


@pytest.mark.django_db
def test_an_excluded_raters_votes_are_left_out_of_the_pair_counts(vote_writer: VoteWriter, lenient: Any) -> None:
    a, b, throwaway = two_raters_votes(vote_writer)
    scope = scope_parse("arena")
    before = {(t.system_a, t.system_b): (t.wins_a, t.wins_b, t.ties) for t in scope_pair_tallies(scope=scope)}
    assert before == {(a.pk, b.pk): (3, 5, 0), (b.pk, a.pk): (0, 0, 1)}

    raters_board_exclusion_set(rater_ids=[throwaway.pk], excluded=True)

    after = {(t.system_a, t.system_b): (t.wins_a, t.wins_b, t.ties) for t in scope_pair_tallies(scope=scope)}
    assert after == {(a.pk, b.pk): (3, 0, 0)}
    assert len(scope_battle_rows(scope=scope)) == 3
    assert snapshot_compute(scope=scope).vote_count == 3
    assert Vote.objects.count() == 9  # left out, not deleted


@pytest.mark.django_db
def test_a_recompute_after_exclusion_writes_a_board_without_them(vote_writer: VoteWriter, lenient: Any) -> None:
    a, _, throwaway = two_raters_votes(vote_writer)
    leaderboard_recompute_run(scope="arena")
    assert snapshot_current(scope="arena").vote_count == 9

    raters_board_exclusion_set(rater_ids=[throwaway.pk], excluded=True)
    leaderboard_recompute_run(scope="arena")

    snapshot = snapshot_current(scope="arena")
    assert snapshot.vote_count == 3
    row = next(row for row in snapshot.rows if row["system_id"] == a.pk)
    assert (row["wins"], row["losses"], row["ties"]) == (3, 0, 0)


@pytest.mark.realstack
@pytest.mark.usefixtures("real_stack")
def test_excluding_a_rater_has_a_real_worker_recompute_every_board_after_the_commit(
    vote_writer: VoteWriter, lenient: Any, celery_worker: Any
) -> None:
    from tests.waiting import wait_for

    _, _, throwaway = two_raters_votes(vote_writer)
    leaderboard_recompute_run(scope="arena")
    assert snapshot_current(scope="arena").vote_count == 9

    raters_board_exclusion_set(rater_ids=[throwaway.pk], excluded=True)

    def counted(scope: str) -> int | None:
        return getattr(snapshot_current(scope=scope), "vote_count", None)

    wait_for("both boards to count only the honest rater's 3 votes",
             lambda: counted("arena") == counted("arena:instrumental") == 3)
