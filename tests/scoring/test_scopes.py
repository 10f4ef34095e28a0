"""Scope names: parsing, which scopes a vote touches, and the recompute request a vote makes."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.core.cache import cache

from arena.models import Choice, Vote
from core.errors import EarshotError
from scoring.errors import UnknownScope
from scoring.models import ScopeRecompute
from scoring.scopes import scope_parse, scopes_with_votes, vote_scopes
from scoring.services import leaderboards_request_recompute, recompute_mark
from tests.factories import PromptFactory, SystemFactory

if TYPE_CHECKING:
    from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]

pytestmark = pytest.mark.django_db


def test_it_parses_the_arena_and_its_views() -> None:
    assert scope_parse("arena").column == "choice"
    assert scope_parse("arena:musicality").column == "musicality"
    assert scope_parse("arena:prompt_alignment").column == "prompt_alignment"
    assert scope_parse("arena:lyrics").column == "choice"
    assert scope_parse("arena:musicality").group == "leaderboard.arena.musicality"


@pytest.mark.parametrize(
    "name", ["", "arena:", "arena:tempo", "arena:musicality:lyrics", "elo", "campaign:x", "a" * 101]
)
def test_it_refuses_an_unknown_scope_with_a_stable_code(name: str) -> None:
    with pytest.raises(UnknownScope) as caught:
        scope_parse(name)
    assert isinstance(caught.value, EarshotError)
    assert caught.value.code == "unknown_scope"
    assert caught.value.status == 404
    assert "arena" in caught.value.message


def test_a_vote_touches_the_overall_its_axes_and_its_prompt_kind(vote_writer: VoteWriter) -> None:
    first, second = SystemFactory(), SystemFactory()
    instrumental = vote_writer.cast([(first, second, Choice.A)], musicality=Choice.B)[0]
    assert vote_scopes(instrumental) == ["arena", "arena:musicality", "arena:instrumental", "arena:bank"]

    sung = PromptFactory(lyrics="la la la\nsecond verse")
    with_lyrics = vote_writer.cast(
        [(first, second, Choice.TIE)], prompt=sung, prompt_alignment=Choice.A, lyrics_alignment=Choice.B
    )[0]
    assert vote_scopes(with_lyrics) == ["arena", "arena:prompt_alignment", "arena:lyrics_alignment", "arena:lyrics",
                                        "arena:bank"]


def test_blank_lyrics_count_as_instrumental(vote_writer: VoteWriter) -> None:
    first, second = SystemFactory(), SystemFactory()
    vote = vote_writer.cast([(first, second, Choice.A)], prompt=PromptFactory(lyrics="  \n "))[0]
    assert "arena:instrumental" in vote_scopes(vote)
    assert [scope.name for scope in scopes_with_votes()] == ["arena", "arena:instrumental", "arena:bank"]


def test_a_request_queues_one_task_per_scope_after_the_commit_and_writes_no_row(
    django_capture_on_commit_callbacks: Callable[..., Any], celery_app_on_queue: Any, published_tasks: list
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        leaderboards_request_recompute(scopes=["arena:musicality", "arena", "arena"])
        assert published_tasks == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert sorted(p.args[0] for p in published_tasks) == ["arena", "arena:musicality"]
    assert all(p.eta is not None for p in published_tasks)  # debounced
    assert cache.get(recompute_mark("arena")) is not None
    assert not ScopeRecompute.objects.exists()


def test_other_debounced_jobs_of_the_same_votes_go_in_the_same_callback(
    django_capture_on_commit_callbacks: Callable[..., Any], celery_app_on_queue: Any, published_tasks: list
) -> None:
    from reward.jobs import agreement_recompute_job

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        leaderboards_request_recompute(scopes=["arena"], also=[agreement_recompute_job()])
        leaderboards_request_recompute(scopes=["arena"], also=[agreement_recompute_job()])  # already marked
    assert len(callbacks) == 2
    assert sorted(p.task for p in published_tasks) == [
        "reward.tasks.agreement_recompute_task", "scoring.tasks.leaderboard_recompute"]


def test_requests_while_a_task_is_queued_queue_nothing_more(
    django_capture_on_commit_callbacks: Callable[..., Any], celery_app_on_queue: Any, published_tasks: list
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        leaderboards_request_recompute(scopes=["arena"])
    for _ in range(50):
        with django_capture_on_commit_callbacks(execute=True):
            leaderboards_request_recompute(scopes=["arena"])
    assert [p.args for p in published_tasks] == [("arena",)]


def test_a_request_queues_again_once_the_mark_of_a_lost_task_expires(
    django_capture_on_commit_callbacks: Callable[..., Any], celery_app_on_queue: Any, published_tasks: list,
    settings: Any,
) -> None:
    from tests.waiting import wait_for

    settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = 0.1
    settings.EARSHOT_RECOMPUTE_STALE_SECONDS = 0.2
    with django_capture_on_commit_callbacks(execute=True):
        leaderboards_request_recompute(scopes=["arena"])
    # The task never ran (its message was lost): its mark expires, in the cache's own time; the test waits for
    # that rather than for a fixed guess.
    wait_for("the lost task's mark to expire", lambda: cache.get(recompute_mark("arena")) is None)
    with django_capture_on_commit_callbacks(execute=True):
        leaderboards_request_recompute(scopes=["arena"])
    assert [p.args for p in published_tasks] == [("arena",), ("arena",)]


def test_a_request_refuses_an_unknown_scope_and_queues_nothing(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(UnknownScope):
        leaderboards_request_recompute(scopes=["arena", "arena:tempo"])
    assert callbacks == []


def test_boards_can_be_filtered_by_where_the_prompt_came_from(vote_writer: VoteWriter) -> None:
    first, second = SystemFactory(), SystemFactory()
    bank = vote_writer.cast([(first, second, Choice.A)] * 2)
    listener = vote_writer.cast([(first, second, Choice.B)], prompt=PromptFactory(origin="listener"))
    assert vote_scopes(listener[0])[-1] == "arena:listener" and vote_scopes(bank[0])[-1] == "arena:bank"
    counted = {name: Vote.objects.filter(scope_parse(name).votes_filter).count()
               for name in ("arena", "arena:bank", "arena:listener")}
    assert counted == {"arena": 3, "arena:bank": 2, "arena:listener": 1}
    assert scope_parse("arena:listener").label == "Arena · Listeners' own prompts"
