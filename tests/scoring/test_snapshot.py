"""Leaderboard snapshots: the one GROUP BY, the ratings it feeds, thresholds, history and idempotence."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from arena.models import Choice, System
from scoring import ratings
from scoring.models import LeaderboardSnapshot
from scoring.scopes import scope_parse
from scoring.selectors import scope_pair_tallies, snapshot_current, snapshot_history, system_ratings
from scoring.services import snapshot_compute, snapshot_refresh
from tests.factories import PromptFactory, SystemFactory

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = pytest.mark.django_db


def _systems(count: int) -> list[System]:
    return [SystemFactory(name=f"Gen {chr(65 + i)}", slug=f"gen-{chr(97 + i)}") for i in range(count)]


def _by_slug(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["slug"]: row for row in rows}


def _tournament(writer: VoteWriter, systems: list[System], strength: list[float], votes: int, seed: int) -> list:
    """Random battles whose outcomes follow Bradley–Terry strengths; a few ties and both-bads mixed in."""
    rng = np.random.default_rng(seed)
    plan = []
    for _ in range(votes):
        i, j = rng.choice(len(systems), size=2, replace=False)
        p_i = 1.0 / (1.0 + np.exp(strength[j] - strength[i]))
        roll = rng.random()
        if roll < 0.08:
            choice = Choice.TIE
        elif roll < 0.12:
            choice = Choice.BOTH_BAD
        else:
            choice = Choice.A if rng.random() < p_i else Choice.B
        plan.append((systems[i], systems[j], choice))
    return writer.cast(plan)


def test_pair_counts_come_from_one_query(vote_writer: VoteWriter, django_assert_num_queries: Any) -> None:
    first, second, third = _systems(3)
    vote_writer.cast([(first, second, Choice.A), (first, second, Choice.B), (second, first, Choice.TIE),
                      (first, third, Choice.BOTH_BAD), (third, first, Choice.A)])
    scope = scope_parse("arena")
    with django_assert_num_queries(1):
        tallies = scope_pair_tallies(scope=scope)
    as_tuples = {(t.system_a, t.system_b): (t.wins_a, t.wins_b, t.ties, t.both_bad) for t in tallies}
    assert as_tuples == {
        (first.pk, second.pk): (1, 1, 0, 0),
        (second.pk, first.pk): (0, 0, 1, 0),
        (first.pk, third.pk): (0, 0, 0, 1),
        (third.pk, first.pk): (1, 0, 0, 0),
    }


@pytest.mark.parametrize("rounds", [200])
def test_the_snapshot_matches_a_fit_on_the_battle_rows(vote_writer: VoteWriter, settings: Any, rounds: int) -> None:
    settings.EARSHOT_BOOTSTRAP_ROUNDS = rounds
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    systems = _systems(4)
    votes = _tournament(vote_writer, systems, [1.0, 0.3, 0.0, -0.8], 400, seed=3)

    data = snapshot_compute(scope=scope_parse("arena"))

    index = {system.pk: i for i, system in enumerate(systems)}
    counts = ratings.PairCounts.from_battles(
        sys_a=[index[v.system_a_id] for v in votes],
        sys_b=[index[v.system_b_id] for v in votes],
        outcome=ratings.outcome_codes(v.choice for v in votes),
        n_systems=4,
    )
    reference = ratings.bt_fit(counts, prior=ratings.DEFAULT_LEADERBOARD_PRIOR).ratings()
    rows = _by_slug(data.rows)
    assert data.vote_count == 400
    assert data.last_vote_id == max(v.pk for v in votes)
    for system in systems:
        row = rows[system.slug]
        assert row["rating"] == pytest.approx(reference[index[system.pk]], abs=0.01)
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
        assert row["n"] == int(counts.battle_matrix()[index[system.pk]].sum())
        assert row["wins"] + row["losses"] + row["ties"] + row["both_bad"] == row["n"]
    assert [row["slug"] for row in data.rows][0] == "gen-a"
    assert np.mean([row["rating"] for row in data.rows]) == pytest.approx(1000.0, abs=0.05)
    assert data.extra["method"]["rounds"] == rounds
    # Online Elo runs over the same votes in order: it ranks the clear leader first too.
    assert max(data.rows, key=lambda row: row["elo"])["slug"] == "gen-a"


def test_the_rank_follows_the_interval_rule(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 300
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    a, b, c, d = _systems(4)
    # a and b have identical records, so their intervals overlap whatever the bootstrap draws; d loses almost all.
    plan = [(a, b, Choice.A)] * 10 + [(b, a, Choice.A)] * 10
    for top in (a, b):
        plan += [(top, c, Choice.A)] * 20 + [(c, top, Choice.A)] * 5
        plan += [(top, d, Choice.A)] * 24 + [(d, top, Choice.A)] * 1
    plan += [(c, d, Choice.A)] * 20 + [(d, c, Choice.A)] * 5
    vote_writer.cast(plan)

    rows = snapshot_compute(scope=scope_parse("arena")).rows
    for row in rows:
        above = sum(other["ci_low"] > row["ci_high"] for other in rows)
        assert row["rank"] == 1 + above
    ranks = {row["slug"]: row["rank"] for row in rows}
    assert ranks["gen-a"] == ranks["gen-b"] == 1
    assert ranks["gen-d"] >= 3
    assert [row["rank"] for row in rows] == sorted(row["rank"] for row in rows)


def test_axis_scopes_read_their_own_column(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 50
    good_tune, good_prompt = _systems(2)
    vote_writer.cast([(good_tune, good_prompt, Choice.A)] * 6, musicality=Choice.A, prompt_alignment=Choice.B)
    vote_writer.cast([(good_tune, good_prompt, Choice.B)] * 2)

    overall = _by_slug(snapshot_compute(scope=scope_parse("arena")).rows)
    musicality = _by_slug(snapshot_compute(scope=scope_parse("arena:musicality")).rows)
    alignment = _by_slug(snapshot_compute(scope=scope_parse("arena:prompt_alignment")).rows)
    assert (overall["gen-a"]["wins"], overall["gen-a"]["n"]) == (6, 8)
    assert (musicality["gen-a"]["wins"], musicality["gen-a"]["n"]) == (6, 6)
    assert (alignment["gen-b"]["wins"], alignment["gen-b"]["n"]) == (6, 6)
    assert alignment["gen-b"]["rating"] > alignment["gen-a"]["rating"]


def test_prompt_subsets_split_by_lyrics(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 50
    first, second = _systems(2)
    vote_writer.cast([(first, second, Choice.A)] * 3, prompt=PromptFactory(lyrics="verse one"))
    vote_writer.cast([(first, second, Choice.B)] * 5)
    assert snapshot_compute(scope=scope_parse("arena:lyrics")).vote_count == 3
    assert snapshot_compute(scope=scope_parse("arena:instrumental")).vote_count == 5
    assert snapshot_compute(scope=scope_parse("arena")).vote_count == 8


def test_a_system_appears_after_the_minimum_and_is_preliminary_below_the_threshold(
    vote_writer: VoteWriter, settings: Any
) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 5
    settings.EARSHOT_LEADERBOARD_PRELIMINARY_VOTES = 10
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 50
    first, second, newcomer = _systems(3)
    vote_writer.cast([(first, second, Choice.A), (second, first, Choice.A)] * 5)
    vote_writer.cast([(newcomer, first, Choice.A)] * 4)

    data = snapshot_compute(scope=scope_parse("arena"))
    rows = _by_slug(data.rows)
    assert "gen-c" not in rows
    assert data.extra["hidden"] == [{"system_id": newcomer.pk, "name": "Gen C", "n": 4}]
    assert rows["gen-a"]["preliminary"] is False and rows["gen-a"]["n"] == 14
    assert rows["gen-b"]["preliminary"] is False and rows["gen-b"]["n"] == 10
    assert sorted(row["rank"] for row in data.rows) == [1, 1]
    assert data.win_rate["systems"] == [row["system_id"] for row in data.rows]

    vote_writer.cast([(newcomer, second, Choice.B)])
    rows = _by_slug(snapshot_compute(scope=scope_parse("arena")).rows)
    assert rows["gen-c"]["n"] == 5 and rows["gen-c"]["preliminary"] is True


def test_the_win_rate_matrix_counts_ties_as_half(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 50
    first, second = _systems(2)
    vote_writer.cast([(first, second, Choice.A), (first, second, Choice.A), (second, first, Choice.TIE),
                      (second, first, Choice.A), (first, second, Choice.BOTH_BAD)])
    data = snapshot_compute(scope=scope_parse("arena"))
    order = data.win_rate["systems"]
    i, j = order.index(first.pk), order.index(second.pk)
    assert data.win_rate["win_rate"][i][j] == pytest.approx(2.5 / 4, abs=1e-4)
    assert data.win_rate["win_rate"][j][i] == pytest.approx(1.5 / 4, abs=1e-4)
    assert data.win_rate["win_rate"][i][i] is None
    assert data.win_rate["battles"][i][j] == data.win_rate["battles"][j][i] == 5


def test_controlled_ratings_take_the_loudness_advantage_out(vote_writer: VoteWriter, settings: Any) -> None:
    """A system whose clips were delivered louder wins more; the controlled rating gives that back."""
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 50
    loud, quiet = _systems(2)
    rng = np.random.default_rng(11)
    for k in range(300):
        prompt = PromptFactory()
        # The loud system is louder on average, but not always, so loudness and system can be told apart.
        gap = float(rng.uniform(-3.0, 6.0))
        vote_writer.clip(loud, prompt, delivery_lufs=-14.0 + gap / 2, duration_s=float(rng.uniform(8, 12)))
        vote_writer.clip(quiet, prompt, delivery_lufs=-14.0 - gap / 2, duration_s=float(rng.uniform(8, 12)))
        # People prefer the louder clip by 0.8 logit per LU; the systems are otherwise equal.
        p_loud = 1.0 / (1.0 + np.exp(-0.8 * gap))
        pair = (loud, quiet) if k % 2 else (quiet, loud)
        loud_won = rng.random() < p_loud
        choice = Choice.A if (pair[0] is loud) == loud_won else Choice.B
        vote_writer.cast([(pair[0], pair[1], choice)], prompt=prompt)

    data = snapshot_compute(scope=scope_parse("arena"))
    rows = _by_slug(data.rows)
    raw_gap = rows["gen-a"]["rating"] - rows["gen-b"]["rating"]
    controlled_gap = rows["gen-a"]["controlled_rating"] - rows["gen-b"]["controlled_rating"]
    assert raw_gap > 60
    assert abs(controlled_gap) < raw_gap / 3
    assert data.extra["controlled"]["covariates"] == ["duration_diff", "loudness_diff"]
    # 0.8 logit per LU is 139 Elo points per LU.
    assert 90 < data.extra["controlled"]["effects"]["loudness_diff"]["elo_per_unit"] < 190


def test_only_both_bad_votes_rate_nobody_and_say_why(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 20
    first, second = _systems(2)
    vote_writer.cast([(first, second, Choice.BOTH_BAD)] * 3)
    data = snapshot_compute(scope=scope_parse("arena"))
    assert (data.rows, data.vote_count) == ([], 3)
    assert [entry["n"] for entry in data.extra["hidden"]] == [3, 3]
    assert "no decided battles" in data.extra["controlled"]["error"]


def test_the_digest_is_a_column_of_its_own(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 20
    first, second = _systems(2)
    vote_writer.cast([(first, second, Choice.A)] * 3)
    written = snapshot_refresh(scope=scope_parse("arena"))
    assert written is not None
    stored = LeaderboardSnapshot.objects.get(pk=written.pk)
    assert len(stored.digest) == 64 and stored.digest == snapshot_compute(scope=scope_parse("arena")).digest
    assert "digest" not in stored.extra


def test_an_empty_scope_gives_an_empty_leaderboard() -> None:
    data = snapshot_compute(scope=scope_parse("arena:lyrics"))
    assert (data.rows, data.vote_count, data.win_rate["systems"]) == ([], 0, [])


def test_a_refresh_keeps_history_and_writes_nothing_when_votes_are_unchanged(
    vote_writer: VoteWriter, settings: Any
) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100
    first, second = _systems(2)
    vote_writer.cast([(first, second, Choice.A)] * 3)
    scope = scope_parse("arena")
    written = snapshot_refresh(scope=scope)
    assert written is not None and written.vote_count == 3
    assert snapshot_refresh(scope=scope) is None

    vote_writer.cast([(second, first, Choice.A)])
    newer = snapshot_refresh(scope=scope)
    assert newer is not None and newer.vote_count == 4
    assert LeaderboardSnapshot.objects.filter(scope="arena").count() == 2
    assert newer.digest == snapshot_compute(scope=scope).digest != written.digest
    assert snapshot_current(scope="arena") == newer
    assert [s.vote_count for s in snapshot_history(scope="arena", limit=10)] == [3, 4]
    assert set(system_ratings(scope="arena")) == {first.pk, second.pk}


def test_the_reveals_ratings_are_remembered_for_a_moment_then_read_again(
    vote_writer: VoteWriter, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100
    settings.EARSHOT_REVEAL_RATINGS_CACHE_SECONDS = 0.5
    # The memo's clock stands still unless the test moves it: "within the window" must not depend on how fast
    # this machine casts the votes and refreshes the snapshot in between.
    clock = [1000.0]
    monkeypatch.setattr("core.memo.memo_clock", lambda: clock[0])
    first, second, third = _systems(3)
    vote_writer.cast([(first, second, Choice.A)] * 3)
    snapshot_refresh(scope=scope_parse("arena"))
    assert set(system_ratings(scope="arena")) == {first.pk, second.pk}
    vote_writer.cast([(third, first, Choice.A)] * 3)
    snapshot_refresh(scope=scope_parse("arena"))
    assert set(system_ratings(scope="arena")) == {first.pk, second.pk}  # within the window: as remembered
    clock[0] += 0.25
    assert set(system_ratings(scope="arena")) == {first.pk, second.pk}  # still within the window
    clock[0] += 0.5
    assert set(system_ratings(scope="arena")) == {first.pk, second.pk, third.pk}


def test_the_same_votes_give_the_same_intervals(vote_writer: VoteWriter, settings: Any) -> None:
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 200
    _tournament(vote_writer, _systems(3), [0.5, 0.0, -0.5], 120, seed=8)
    scope = scope_parse("arena")
    assert snapshot_compute(scope=scope).rows == snapshot_compute(scope=scope).rows
