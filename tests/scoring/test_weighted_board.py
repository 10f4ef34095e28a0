"""The reliability-weighted (Crowd-BT) board beside the plain one, and votes-to-separate on every board's rows, on
PostgreSQL: recompute, snapshots, and GET /api/leaderboards/<scope>/?method=crowd_bt."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from arena.models import Choice, System
from scoring.models import LeaderboardSnapshot
from scoring.scopes import Scope, scope_parse
from scoring.selectors import snapshot_current
from scoring.services import snapshot_refresh, snapshots_prune
from tests.factories import RaterFactory, SystemFactory
from tests.openapi import assert_matches_schema

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = pytest.mark.django_db


def _weighted(name: str = "arena") -> Scope:
    """An arena scope that asks for the weighted board, as campaign scopes will."""
    return dataclasses.replace(scope_parse(name), reliability_weighted=True)


def _systems() -> list[System]:
    return [SystemFactory(name=f"Gen {letter}", slug=f"gen-{letter.lower()}") for letter in "ABCD"]


def _campaign(writer: VoteWriter, systems: list[System]) -> tuple[VoteWriter, VoteWriter]:
    """A careful rater who votes as the strengths say and one who clicks at random, 240 votes each."""
    strengths = [1.5, 0.8, 0.0, -0.8]
    rng = np.random.default_rng(5)
    careful, careless = writer, dataclasses.replace(writer, rater=RaterFactory())
    for writer, honest in ((careful, True), (careless, False)):
        plan = []
        for _ in range(240):
            i, j = rng.choice(len(systems), size=2, replace=False)
            a_wins = rng.random() < 1.0 / (1.0 + np.exp(strengths[j] - strengths[i])) if honest else rng.random() < 0.5
            plan.append((systems[i], systems[j], Choice.A if a_wins else Choice.B))
        writer.cast(plan)
    return careful, careless


def test_a_weighted_scope_gets_a_crowd_bt_snapshot_with_each_raters_reliability(
    vote_writer: VoteWriter, lenient: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    systems = _systems()
    careful, careless = _campaign(vote_writer, systems)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        written = snapshot_refresh(scope=_weighted())
    # Only the plain board is pushed to the live page.
    assert len(callbacks) == 1
    plain = snapshot_current(scope="arena")
    weighted = snapshot_current(scope="arena", method="crowd_bt")
    assert written == plain and plain is not None and weighted is not None
    assert plain.method == "bradley_terry" and weighted.method == "crowd_bt"
    raters = weighted.extra["raters"]
    assert set(raters) == {str(careful.rater.pk), str(careless.rater.pk)}
    assert raters[str(careful.rater.pk)]["eta"] > 0.85
    assert abs(raters[str(careless.rater.pk)]["eta"] - 0.5) < 0.15
    assert raters[str(careful.rater.pk)]["votes"] == 240
    assert weighted.extra["method"]["model"] == "crowd_bt"
    # The weighted board ranks the systems as the careful rater's strengths do and spreads them further than the
    # plain one,
    # the careless rater's coin flips no longer pulling them together.
    assert [row["slug"] for row in weighted.rows] == ["gen-a", "gen-b", "gen-c", "gen-d"]
    assert [row["slug"] for row in plain.rows][2:] == ["gen-c", "gen-d"]
    spread = {snapshot.method: snapshot.rows[0]["rating"] - snapshot.rows[-1]["rating"]
              for snapshot in (plain, weighted)}
    assert spread["crowd_bt"] > spread["bradley_terry"]


def test_an_arena_scope_writes_only_the_plain_board(vote_writer: VoteWriter, lenient: Any) -> None:
    alpha, beta = SystemFactory(), SystemFactory()
    vote_writer.cast([(alpha, beta, Choice.A)] * 3 + [(beta, alpha, Choice.A)])
    assert scope_parse("arena").reliability_weighted is False
    snapshot_refresh(scope=scope_parse("arena"))
    assert list(LeaderboardSnapshot.objects.values_list("method", flat=True)) == ["bradley_terry"]


def test_unchanged_votes_write_no_new_weighted_snapshot(vote_writer: VoteWriter, lenient: Any) -> None:
    _campaign(vote_writer, _systems())
    assert snapshot_refresh(scope=_weighted()) is not None
    assert snapshot_refresh(scope=_weighted()) is None
    assert LeaderboardSnapshot.objects.filter(method="crowd_bt").count() == 1


def test_every_row_but_the_last_says_how_many_votes_separate_it_from_the_next(
    vote_writer: VoteWriter, lenient: Any
) -> None:
    _campaign(vote_writer, _systems())
    snapshot_refresh(scope=_weighted())
    for method in ("bradley_terry", "crowd_bt"):
        snapshot = snapshot_current(scope="arena", method=method)
        assert snapshot is not None
        *upper, last = snapshot.rows
        assert (last["votes_to_separate"], last["separation"]) == (None, None)
        for row, below in zip(upper, snapshot.rows[1:], strict=True):
            assert row["separation"] in {"separated", "projected", "beyond_budget"}
            separated = row["ci_low"] > below["ci_high"]
            assert (row["separation"] == "separated") == separated
            if row["separation"] == "projected":
                assert row["votes_to_separate"] > 0
            else:
                assert row["votes_to_separate"] == (0 if separated else None)


def test_a_budget_of_no_votes_leaves_overlapping_pairs_beyond_it(vote_writer: VoteWriter, lenient: Any) -> None:
    lenient.EARSHOT_SEPARATION_BUDGET_VOTES = 0
    alpha, beta = SystemFactory(), SystemFactory()
    vote_writer.cast([(alpha, beta, Choice.A)] * 3 + [(beta, alpha, Choice.A)] * 2)
    snapshot = snapshot_refresh(scope=scope_parse("arena"))
    assert snapshot is not None
    assert snapshot.rows[0]["separation"] == "beyond_budget"
    assert snapshot.rows[0]["votes_to_separate"] is None


def test_the_api_serves_the_weighted_board_and_refuses_it_where_there_is_none(
    vote_writer: VoteWriter, lenient: Any
) -> None:
    client = APIClient()
    _campaign(vote_writer, _systems())
    refused = client.get("/api/leaderboards/arena/", {"method": "crowd_bt"})
    assert refused.status_code == 404
    body = assert_matches_schema(refused, closed=True)
    assert body["code"] == "no_weighted_board"
    assert "no reliability-weighted board" in body["message"]
    assert client.get("/api/leaderboards/arena/", {"method": "elo"}).status_code == 400

    snapshot_refresh(scope=_weighted())
    weighted = assert_matches_schema(client.get("/api/leaderboards/arena/", {"method": "crowd_bt", "history": 2}),
                                     closed=True)
    assert weighted["snapshot"]["method"] == "crowd_bt"
    assert len(weighted["snapshot"]["extra"]["raters"]) == 2
    assert [point["vote_count"] for point in weighted["history"]] == [480]
    assert weighted["snapshot"]["rows"][0]["separation"] in {"separated", "projected", "beyond_budget"}
    plain = assert_matches_schema(client.get("/api/leaderboards/arena/"), closed=True)
    assert plain["snapshot"]["method"] == "bradley_terry"
    assert plain["snapshot"]["id"] != weighted["snapshot"]["id"]


def test_pruning_keeps_the_newest_snapshots_of_each_board() -> None:
    for method in ("bradley_terry", "crowd_bt", "bradley_terry", "crowd_bt", "bradley_terry", "crowd_bt"):
        LeaderboardSnapshot.objects.create(scope="arena", method=method, digest=method)
    newest = {method: list(LeaderboardSnapshot.objects.filter(method=method).order_by("-id")
                           .values_list("id", flat=True)[:2]) for method in ("bradley_terry", "crowd_bt")}
    assert snapshots_prune(scope="arena", keep=2) == 2
    for method, ids in newest.items():
        assert sorted(LeaderboardSnapshot.objects.filter(method=method).values_list("id", flat=True)) == sorted(ids)


def test_a_weighted_scope_without_votes_gets_an_empty_weighted_board(lenient: Any) -> None:
    snapshot_refresh(scope=_weighted())
    weighted = snapshot_current(scope="arena", method="crowd_bt")
    assert weighted is not None
    assert (weighted.rows, weighted.extra["raters"], weighted.vote_count) == ([], {}, 0)
