"""Vote writes: the one vote of a battle, idempotent for the same vote, recorded with the recompute request."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from arena import hooks
from arena.errors import (
    AudioNotFetched,
    AxisNotApplicable,
    BattleNotFound,
    BattleTooYoung,
    ListeningTooShort,
    VoteConflict,
)
from arena.models import Battle, Choice, Clip, Prompt, Rater, System, Vote
from arena.selectors import LYRICS_AXIS, listening_required_ms
from arena.services.battles import LISTENING_FIELDS, battle_ensure_open, listening_credit
from arena.services.listening import ListeningEvent, fetched_total_ms
from core.errors import InvalidInput
from core.rows import instance_from_db, lock_clause, quoted, row_insert, row_update

MAX_DECISION_MS = 2**31 - 1
# What the vote reads of its battle, and of its prompt, clips and systems (the reveal names them).
VOTE_BATTLE_FIELDS = (
    "id", "public_id", "rater", "prompt", "clip_a", "clip_b", "mode", "status", "created_at", "expires_at",
    "ms_played_a", "ms_played_b", "seeks", "switches", "playing_side", "mark_position_ms", "mark_client_ms",
    "last_side", "suggestion_shown", "suggestion_side", "suggestion_p", "audio_fetched_ms", "min_listen_ms",
    "reveal_systems",
)


@lru_cache(maxsize=4)
def _battle_for_vote_sql(using: str) -> str:
    """The battle, locked, with what the vote reads of its prompt, clips and systems: one query, written out
    because the ORM's select_related/only compile cost more CPU than the vote's three statements together."""
    battle = [quoted(Battle, name, using=using) for name in VOTE_BATTLE_FIELDS]
    joined = {
        "prompt_lyrics": quoted(Prompt, "lyrics", using=using),
        "prompt_origin": quoted(Prompt, "origin", using=using),
        **{f"clip_{side}_duration_s": f"clip_{side}.duration_s" for side in "ab"},
        **{f"clip_{side}_system_id": f"clip_{side}.system_id" for side in "ab"},
        **{f"system_{side}_{name}": f"system_{side}.{name}" for side in "ab" for name in ("name", "slug")},
    }
    table, prompt, clip, system = (quoted(model, using=using) for model in (Battle, Prompt, Clip, System))
    # Names from the models' metadata only; the values go as parameters.
    return (
        f"SELECT {', '.join(battle)}, {', '.join(f'{column} AS {alias}' for alias, column in joined.items())} "  # noqa: S608
        f"FROM {table} JOIN {prompt} ON {quoted(Prompt, 'id', using=using)} = {quoted(Battle, 'prompt', using=using)} "
        + "".join(
            f"JOIN {clip} clip_{side} ON clip_{side}.id = {quoted(Battle, f'clip_{side}', using=using)} "
            f"JOIN {system} system_{side} ON system_{side}.id = clip_{side}.system_id "
            for side in "ab"
        )
        + f"WHERE {quoted(Battle, 'public_id', using=using)} = %s AND {quoted(Battle, 'rater', using=using)} = %s"
        + lock_clause(Battle, using=using)
    )


def _battle_for_vote(*, public_id: uuid.UUID | str, rater: Rater) -> Battle:
    """The rater's battle, row-locked, with prompt, clips and systems attached; BattleNotFound otherwise."""
    using = router.db_for_write(Battle)
    try:
        key = Battle._meta.get_field("public_id").get_db_prep_value(
            uuid.UUID(str(public_id)), connections[using], prepared=False
        )
    except ValueError as exc:
        raise BattleNotFound() from exc
    found = list(Battle.objects.db_manager(using).raw(_battle_for_vote_sql(using), [key, rater.pk]))
    if not found:
        raise BattleNotFound()
    battle = found[0]
    row = battle.__dict__
    battle.prompt = instance_from_db(Prompt, using=using, values={"id": battle.prompt_id,
                                                                  "lyrics": row.pop("prompt_lyrics"),
                                                                  "origin": row.pop("prompt_origin")})
    for side in "ab":
        system = instance_from_db(System, using=using, values={
            "id": row.pop(f"clip_{side}_system_id"), "name": row.pop(f"system_{side}_name"),
            "slug": row.pop(f"system_{side}_slug")})
        clip = instance_from_db(Clip, using=using, values={
            "id": getattr(battle, f"clip_{side}_id"), "system_id": system.pk, "prompt_id": battle.prompt_id,
            "duration_s": row.pop(f"clip_{side}_duration_s")})
        clip.system = system
        setattr(battle, f"clip_{side}", clip)
    battle.rater = rater
    return battle


@dataclass(frozen=True)
class VoteAnswers:
    """What the listener answered; the same answers again are the same vote."""

    choice: str
    musicality: str = ""
    prompt_alignment: str = ""
    lyrics_alignment: str = ""
    reason: str = ""

    @classmethod
    def of(cls, vote: Vote) -> VoteAnswers:
        return cls(vote.choice, vote.musicality, vote.prompt_alignment, vote.lyrics_alignment, vote.reason)

    def validate(self) -> None:
        for name in ("choice", "musicality", "prompt_alignment", "lyrics_alignment"):
            value = getattr(self, name)
            if (value or name == "choice") and value not in Choice.values:
                raise InvalidInput(f"{name} must be one of {', '.join(Choice.values)}", field=name)


def vote_record(
    *,
    battle_public_id: uuid.UUID | str,
    rater: Rater,
    choice: str,
    musicality: str = "",
    prompt_alignment: str = "",
    lyrics_alignment: str = "",
    reason: str = "",
    decision_ms: int | None = None,
    client_hints: dict[str, Any] | None = None,
    ip_hash: str = "",
    events: Sequence[ListeningEvent] = (),
) -> tuple[Vote, bool]:
    """Record the rater's vote on their battle; returns (vote, created).

    `events` are the player's last listening events, credited under the same lock just before the listening check
    (so a page needs no separate request to flush them). They are kept when the vote is refused for too little
    listening or too little audio fetched, so the page need not send them again; a vote already recorded ignores
    them. The audio fetched through the battle's URLs (arena.services.audio) must hold the listening each side needs.
    The same vote again returns the stored one with created=False; a different one raises VoteConflict. The
    battle row is locked for the whole check-and-insert, and the one-vote-per-battle constraint is the last guard
    should anything reach the insert twice. The leaderboard recompute is requested in the same transaction.
    """
    answers = VoteAnswers(choice, musicality, prompt_alignment, lyrics_alignment, reason.strip())
    answers.validate()
    refused: BattleTooYoung | ListeningTooShort | AudioNotFetched | None = None
    try:
        with transaction.atomic():
            battle = _battle_for_vote(public_id=battle_public_id, rater=rater)
            if battle.status == Battle.Status.VOTED:
                return _same_vote_or_conflict(battle_id=battle.pk, answers=answers), False
            try:
                vote = _vote_insert(
                    battle=battle,
                    rater=rater,
                    answers=answers,
                    decision_ms=decision_ms,
                    client_hints=client_hints or {},
                    ip_hash=ip_hash,
                    events=events,
                )
            except (BattleTooYoung, ListeningTooShort, AudioNotFetched) as exc:
                # Refused before any write: commit the credited events instead of rolling them back.
                if events:
                    using = battle._state.db or router.db_for_write(Battle)
                    row_update(battle, fields=tuple(LISTENING_FIELDS), using=using)
                refused = exc
    except IntegrityError:
        existing = Vote.objects.filter(battle__public_id=battle_public_id, rater=rater).values_list("battle_id")
        battle_id = existing.first()
        if battle_id is None:
            raise
        return _same_vote_or_conflict(battle_id=battle_id[0], answers=answers), False
    if refused is not None:
        raise refused
    return vote, True


def _vote_insert(
    *,
    battle: Battle,
    rater: Rater,
    answers: VoteAnswers,
    decision_ms: int | None,
    client_hints: dict[str, Any],
    ip_hash: str,
    events: Sequence[ListeningEvent],
) -> Vote:
    now = timezone.now()
    battle_ensure_open(battle=battle, now=now)
    if events:
        listening_credit(battle=battle, events=events, now=now)
    if answers.lyrics_alignment and not battle.prompt.has_lyrics:
        raise AxisNotApplicable(f"{LYRICS_AXIS} applies only to prompts with lyrics", field=LYRICS_AXIS)
    age_ms = int((now - battle.created_at).total_seconds() * 1000)
    _listening_check(battle=battle, age_ms=age_ms)
    vote = Vote(
        battle=battle,
        rater=rater,
        system_a=battle.clip_a.system,
        system_b=battle.clip_b.system,
        prompt=battle.prompt,
        choice=answers.choice,
        musicality=answers.musicality,
        prompt_alignment=answers.prompt_alignment,
        lyrics_alignment=answers.lyrics_alignment,
        reason=answers.reason,
        ms_played_a=battle.ms_played_a,
        ms_played_b=battle.ms_played_b,
        seeks=battle.seeks,
        switches=battle.switches,
        decision_ms=min(MAX_DECISION_MS, decision_ms if decision_ms is not None else age_ms),
        client_hints=client_hints,
        ip_hash=ip_hash,
        suggestion_shown=battle.suggestion_shown,
        suggestion_side=battle.suggestion_side,
        suggestion_p=battle.suggestion_p,
    )
    using = battle._state.db or router.db_for_write(Battle)
    row_insert(vote, using=using)
    battle.status = Battle.Status.VOTED
    row_update(battle, fields=("status", *LISTENING_FIELDS) if events else ("status",), using=using)
    # What other apps do on a vote (the boards' and the agreement report's recomputes, queued after commit).
    hooks.vote_recorded(vote)
    return vote


def _listening_check(*, battle: Battle, age_ms: int) -> None:
    """Refuse the vote unless the server saw enough time pass, enough listening of each clip reported, and enough
    of each clip's audio requested through the battle's URLs."""
    required = listening_required_ms(battle=battle)
    needed = required["a"] + required["b"]
    if age_ms < needed:
        raise BattleTooYoung(
            f"The battle is {age_ms / 1000:.1f} s old, but listening to both clips takes at least "
            f"{needed / 1000:.1f} s.",
            age_ms=age_ms,
            required_ms=required,
        )
    played = {"a": battle.ms_played_a, "b": battle.ms_played_b}
    short = [side for side in ("a", "b") if played[side] < required[side]]
    if short:
        raise ListeningTooShort(
            "; ".join(
                f"clip {side.upper()} was played {played[side] / 1000:.1f} s of the required "
                f"{required[side] / 1000:.1f} s"
                for side in short
            ),
            ms_played=played,
            required_ms=required,
        )
    _fetched_check(battle=battle, required=required)


def _fetched_check(*, battle: Battle, required: dict[str, int]) -> None:
    """Refuse the vote unless each side's fetched audio holds as many milliseconds as its listening requires.

    Any part of the clip counts, not only its start: a listener may seek past an intro, and the server cannot tell
    which part was heard, only that audio for that long reached the player (a whole file counts whole, even if
    nobody heard it: the client's telemetry stays the finer record).
    """
    covered = battle.audio_fetched_ms or {}
    fetched = {side: fetched_total_ms(covered.get(side, [])) for side in ("a", "b")}
    short = [side for side in ("a", "b") if fetched[side] < required[side]]
    if short:
        raise AudioNotFetched(
            "; ".join(
                f"clip {side.upper()}: {100 * fetched[side] // required[side]}% of the audio needed for "
                f"{required[side] / 1000:.1f} s of listening was fetched"
                for side in short
            ),
            fetched_ms=fetched,
            required_ms=required,
        )


def _same_vote_or_conflict(*, battle_id: int, answers: VoteAnswers) -> Vote:
    existing = Vote.objects.select_related("system_a", "system_b").get(battle_id=battle_id)
    if VoteAnswers.of(existing) != answers:
        raise VoteConflict(choice=existing.choice)
    return existing
