"""Listening telemetry: milliseconds played per side from player events, seeks, switches, the server-clock cap."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from arena.errors import BattleExpired, BattleNotFound, BattleVoted
from arena.models import Battle, Rater
from arena.services import battle_events_record
from arena.services.listening import ListeningEvent, ListeningState, listening_apply
from tests.arena.arena_support import arena_isolated, battle_age  # noqa: F401 - autouse fixture
from tests.factories import BattleFactory, RaterFactory

UNLIMITED = 10**9


def applied(*events: tuple[str, str, int, int], budget_ms: int = UNLIMITED) -> ListeningState:
    return listening_apply(ListeningState(), [ListeningEvent(*e) for e in events], budget_ms=budget_ms)


def test_play_then_pause_credits_how_far_the_position_moved() -> None:
    state = applied(("play", "a", 1000, 50_000), ("pause", "a", 4500, 53_500))
    assert state.ms_played == {"a": 3500, "b": 0}
    assert state.playing_side == ""


def test_progress_events_add_up_while_playing() -> None:
    state = applied(
        ("play", "b", 0, 0), ("progress", "b", 1000, 1000), ("progress", "b", 2000, 2000), ("ended", "b", 2600, 2600)
    )
    assert state.ms_played == {"a": 0, "b": 2600}


def test_the_position_cannot_run_faster_than_the_client_clock() -> None:
    # A claim of 30 s played in 2 s of client time (e.g. a forged position) earns the 2 s and a small tolerance.
    state = applied(("play", "a", 0, 10_000), ("pause", "a", 30_000, 12_000))
    assert state.ms_played["a"] == 2000 + 250


def test_a_seek_credits_the_time_played_before_the_jump_and_is_counted() -> None:
    state = applied(("play", "a", 0, 0), ("seek", "a", 20_000, 3000), ("pause", "a", 21_000, 4000))
    assert state.ms_played["a"] == 3000 + 1000
    assert state.seeks == 1


def test_a_seek_while_paused_credits_nothing() -> None:
    state = applied(("play", "a", 0, 0), ("pause", "a", 1000, 1000), ("seek", "a", 9000, 60_000))
    assert state.ms_played["a"] == 1000
    assert state.seeks == 1


def test_changing_sides_counts_one_switch_each_time() -> None:
    state = applied(
        ("play", "a", 0, 0),
        ("pause", "a", 1000, 1000),
        ("switch", "b", 0, 1100),
        ("play", "b", 0, 1100),
        ("pause", "b", 1000, 2100),
        ("play", "a", 1000, 2200),
        ("pause", "a", 1500, 2700),
    )
    assert state.switches == 2
    assert state.ms_played == {"a": 1500, "b": 1000}


def test_starting_the_other_side_without_a_pause_credits_the_first_by_the_clock() -> None:
    state = applied(("play", "a", 0, 0), ("play", "b", 0, 4000), ("pause", "b", 3000, 7000))
    assert state.ms_played == {"a": 4000, "b": 3000}
    assert state.switches == 1


def test_a_switch_while_playing_hands_playback_to_the_other_side() -> None:
    state = applied(("play", "a", 0, 0), ("switch", "b", 2000, 2000), ("pause", "b", 5000, 5000))
    assert state.ms_played == {"a": 2000, "b": 3000}
    assert state.switches == 1


def test_a_clock_running_backwards_earns_nothing() -> None:
    state = applied(("play", "a", 0, 5000), ("seek", "a", 0, 1000))
    assert state.ms_played["a"] == 0


def test_the_budget_caps_the_total_across_both_sides() -> None:
    state = applied(
        ("play", "a", 0, 0), ("pause", "a", 4000, 4000), ("play", "b", 0, 4000), ("pause", "b", 4000, 8000),
        budget_ms=5000,
    )
    assert state.ms_played == {"a": 4000, "b": 1000}


def record(battle: Battle, *events: tuple[str, str, int, int], rater: Rater | None = None) -> Battle:
    return battle_events_record(
        battle_public_id=battle.public_id, rater=rater or battle.rater, events=[ListeningEvent(*e) for e in events]
    )


@pytest.mark.django_db
class TestBattleEventsRecord:
    def test_it_keeps_the_listening_state_between_batches(self) -> None:
        battle = BattleFactory()
        battle_age(battle, 30)
        record(battle, ("play", "a", 0, 100))
        record(battle, ("progress", "a", 3000, 3100))
        recorded = record(battle, ("pause", "a", 5000, 5100), ("play", "b", 0, 5200))
        stored = Battle.objects.get(pk=battle.pk)
        assert (recorded.ms_played_a, stored.ms_played_a, stored.ms_played_b) == (5000, 5000, 0)
        assert (stored.playing_side, stored.last_side, stored.switches) == ("b", "b", 1)
        assert (stored.mark_position_ms, stored.mark_client_ms) == (0, 5200)

    def test_it_never_credits_more_than_the_battle_has_existed_plus_the_slack(self, settings) -> None:  # type: ignore[no-untyped-def]
        settings.EARSHOT_LISTEN_SLACK_MS = 2000
        battle = BattleFactory()
        battle_age(battle, 3)
        claims = [
            ListeningEvent("play", "a", 0, 0),
            ListeningEvent("pause", "a", 60_000, 60_000),
            ListeningEvent("play", "b", 0, 60_000),
            ListeningEvent("pause", "b", 60_000, 120_000),
        ]

        def allowed_ms() -> int:  # the battle's age on the server clock, plus the slack, as the service counts it
            return int((timezone.now() - battle.created_at).total_seconds() * 1000) + settings.EARSHOT_LISTEN_SLACK_MS

        # The service reads the clock between the two readings here, so the test bounds the credit by them
        # rather than by a guess at how long the call takes on this machine.
        earliest = allowed_ms()
        recorded = battle_events_record(battle_public_id=battle.public_id, rater=battle.rater, events=claims)
        total = recorded.ms_played_a + recorded.ms_played_b
        assert 5000 <= earliest <= total <= allowed_ms()  # 3 s of age + 2 s slack, not the minute claimed
        earliest = allowed_ms()
        again = battle_events_record(battle_public_id=battle.public_id, rater=battle.rater, events=claims)
        assert earliest <= again.ms_played_a + again.ms_played_b <= allowed_ms()

    def test_it_refuses_events_for_a_voted_battle(self) -> None:
        battle = BattleFactory(status=Battle.Status.VOTED)
        with pytest.raises(BattleVoted) as caught:
            record(battle, ("play", "a", 0, 0))
        assert caught.value.status == 409

    def test_it_refuses_events_for_an_expired_battle(self) -> None:
        battle = BattleFactory(expires_at=timezone.now() - timedelta(seconds=1))
        with pytest.raises(BattleExpired):
            record(battle, ("play", "a", 0, 0))

    def test_it_refuses_events_from_another_rater(self) -> None:
        battle = BattleFactory()
        with pytest.raises(BattleNotFound):
            record(battle, ("play", "a", 0, 0), rater=RaterFactory())
        assert Battle.objects.get(pk=battle.pk).playing_side == ""
