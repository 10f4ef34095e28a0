"""vote_record: one vote per open battle of the rater, after enough listening; idempotent; recompute on commit."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone

from arena.errors import (
    AxisNotApplicable,
    BattleExpired,
    BattleNotFound,
    BattleTooYoung,
    ListeningTooShort,
    VoteConflict,
)
from arena.models import Battle, Choice, Vote
from arena.services import battle_audio_fetch, battle_create, battle_events_record, vote_record
from arena.services.listening import ListeningEvent
from core.errors import InvalidInput
from reward.jobs import AGREEMENT_QUEUED_KEY
from scoring.scopes import vote_scopes
from tests.arena.arena_support import arena_isolated, battle_age, catalogue_import  # noqa: F401
from tests.factories import ClipFactory, PromptFactory, RaterFactory

pytestmark = pytest.mark.django_db


def listened(battle: Battle, *, a_ms: int, b_ms: int) -> Battle:
    """Age the battle enough, fetch both clips whole through the audio service, then report a listener playing A
    for a_ms and B for b_ms."""
    battle_age(battle, (a_ms + b_ms) / 1000 + 1)
    for side in ("a", "b"):
        battle_audio_fetch(battle_public_id=battle.public_id, rater=battle.rater, side=side, range_header=None,
                           counted=True)
    events = [
        ListeningEvent("play", "a", 0, 0),
        ListeningEvent("pause", "a", a_ms, a_ms),
        ListeningEvent("play", "b", 0, a_ms),
        ListeningEvent("pause", "b", b_ms, a_ms + b_ms),
    ]
    return battle_events_record(battle_public_id=battle.public_id, rater=battle.rater, events=events)


@pytest.fixture
def battle() -> Battle:
    """A battle of two 6 s clips (rows only: what is checked here is the arithmetic on their durations)."""
    prompt = PromptFactory()
    ClipFactory(prompt=prompt, duration_s=6.0)
    ClipFactory(prompt=prompt, duration_s=6.0)
    return battle_create(rater=RaterFactory())


def test_it_records_the_vote_with_the_systems_prompt_and_telemetry(battle: Battle) -> None:
    battle = listened(battle, a_ms=5200, b_ms=6000)
    vote, created = vote_record(
        battle_public_id=battle.public_id,
        rater=battle.rater,
        choice="b",
        musicality="b",
        prompt_alignment="tie",
        reason="  B has a clearer melody ",
        decision_ms=15000,
        client_hints={"viewport": "narrow"},
        ip_hash="f" * 64,
    )
    assert created
    vote.refresh_from_db()
    battle.refresh_from_db()
    assert battle.status == Battle.Status.VOTED
    assert (vote.system_a_id, vote.system_b_id) == (battle.clip_a.system_id, battle.clip_b.system_id)
    assert vote.prompt_id == battle.prompt_id
    assert (vote.choice, vote.musicality, vote.prompt_alignment, vote.lyrics_alignment) == ("b", "b", "tie", "")
    assert vote.reason == "B has a clearer melody"
    assert (vote.ms_played_a, vote.ms_played_b) == (5200, 6000)
    assert (vote.decision_ms, vote.client_hints, vote.ip_hash) == (15000, {"viewport": "narrow"}, "f" * 64)


def test_it_answers_the_same_vote_again_with_the_stored_one(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    first, created = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="tie")
    again, created_again = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="tie")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Vote.objects.count() == 1


def test_it_refuses_a_second_different_vote(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a")
    with pytest.raises(VoteConflict) as caught:
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a", musicality="b")
    assert caught.value.status == 409
    assert Vote.objects.get().musicality == ""


def test_it_refuses_an_expired_battle(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    Battle.objects.filter(pk=battle.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(BattleExpired) as caught:
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a")
    assert caught.value.status == 410
    assert "expired" in caught.value.message
    assert not Vote.objects.exists()


def test_it_does_not_tell_another_rater_that_the_battle_exists(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    with pytest.raises(BattleNotFound) as caught:
        vote_record(battle_public_id=battle.public_id, rater=RaterFactory(), choice="a")
    assert caught.value.status == 404
    with pytest.raises(BattleNotFound) as unknown:
        vote_record(battle_public_id="00000000-0000-4000-8000-000000000000", rater=battle.rater, choice="a")
    assert unknown.value.as_dict() == caught.value.as_dict()


def test_it_refuses_a_battle_younger_than_the_listening_it_needs(battle: Battle) -> None:
    with pytest.raises(BattleTooYoung) as caught:
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a")
    assert caught.value.details["required_ms"] == {"a": 5000, "b": 5000}
    assert "at least 10.0 s" in caught.value.message


def test_it_names_the_clip_that_was_not_played_long_enough(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=2100)
    battle_age(battle, 10)
    with pytest.raises(ListeningTooShort) as caught:
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a")
    assert caught.value.message == "clip B was played 2.1 s of the required 5.0 s"
    assert caught.value.details == {"ms_played": {"a": 5000, "b": 2100}, "required_ms": {"a": 5000, "b": 5000}}
    assert Battle.objects.get(pk=battle.pk).status == Battle.Status.OPEN


def test_a_clip_shorter_than_the_minimum_needs_only_its_own_length(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.EARSHOT_MIN_LISTEN_SECONDS = 5.0
    catalogue_import(tmp_path, systems=2, prompts=1, seconds=1.5)
    battle = listened(battle_create(rater=RaterFactory()), a_ms=1500, b_ms=1500)
    _, created = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="both_bad")
    assert created


def test_it_refuses_the_lyrics_axis_for_a_prompt_without_lyrics(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    with pytest.raises(AxisNotApplicable) as caught:
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a", lyrics_alignment="a")
    assert caught.value.details == {"field": "lyrics_alignment"}


def test_it_takes_the_lyrics_axis_when_the_prompt_has_lyrics() -> None:
    prompt = PromptFactory(lyrics="Sing it loud\n")
    ClipFactory(prompt=prompt, duration_s=0.5)
    ClipFactory(prompt=prompt, duration_s=0.5)
    battle = listened(battle_create(rater=RaterFactory()), a_ms=500, b_ms=500)
    vote, _ = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a", lyrics_alignment="b")
    assert vote.lyrics_alignment == "b"


def test_it_refuses_a_choice_that_does_not_exist(battle: Battle) -> None:
    with pytest.raises(InvalidInput, match="choice must be one of"):
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="c")
    with pytest.raises(InvalidInput, match="musicality"):
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a", musicality="maybe")


def test_it_takes_the_battle_age_as_decision_time_when_the_client_gives_none(battle: Battle) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    vote, _ = vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice="a")
    assert 11000 <= vote.decision_ms <= 20000


def test_it_queues_one_recompute_per_scope_and_one_agreement_report_after_commit(  # type: ignore[no-untyped-def]
    battle: Battle, django_capture_on_commit_callbacks
) -> None:
    battle = listened(battle, a_ms=5000, b_ms=5000)
    cache.delete(AGREEMENT_QUEUED_KEY)  # no agreement recompute already waiting from an earlier test
    with django_capture_on_commit_callbacks() as callbacks:
        vote, _ = vote_record(
            battle_public_id=battle.public_id, rater=battle.rater, choice=Choice.A, musicality=Choice.B
        )
    assert len(vote_scopes(vote)) == 4  # arena, arena:musicality, arena:instrumental, arena:bank
    # One callback queues the three scopes' recomputes and the agreement report (one round trip to the cache).
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as again:
        vote_record(battle_public_id=battle.public_id, rater=battle.rater, choice=Choice.A, musicality=Choice.B)
    assert again == []


def test_it_reads_and_writes_the_arena_tables_in_three_statements(battle: Battle) -> None:
    """One locked read of the battle with what the vote needs, the insert, the status update: no lazy loads."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    battle = listened(battle, a_ms=5000, b_ms=5000)
    rater = battle.rater
    with CaptureQueriesContext(connection) as captured:
        vote, _ = vote_record(battle_public_id=battle.public_id, rater=rater, choice="a")
        revealed = (vote.system_a.name, vote.system_b.slug, vote.prompt.has_lyrics, vote.battle.mode)
    arena = [query["sql"] for query in captured if '"arena_' in query["sql"]]
    assert len(arena) == 3, arena
    assert not [query["sql"] for query in captured if '"scoring_' in query["sql"]]  # recomputes: marks in the cache
    # Nor do the apps above read anything for an arena vote (campaign leases, imported sources).
    assert not [query["sql"] for query in captured if '"annotation_' in query["sql"]]
    assert arena[0].startswith('SELECT "arena_battle"."id"')
    assert ("FOR UPDATE" in arena[0]) == (connection.vendor == "postgresql")  # SQLite locks the whole database
    assert arena[1].startswith('INSERT INTO "arena_vote"')
    assert arena[2].startswith('UPDATE "arena_battle" SET "status"')
    assert revealed[0] == battle.clip_a.system.name
