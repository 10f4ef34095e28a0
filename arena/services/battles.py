"""Battle writes: create a blind battle for a rater, and record the listening telemetry of its player."""
from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import cast

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Field, Model
from django.utils import timezone

from arena import hooks
from arena.errors import BattleAbandoned, BattleExpired, BattleNotFound, BattleVoted, NoPairAvailable, RaterGone
from arena.models import Battle, Clip, Prompt, Rater, System
from arena.sampling import SamplingPolicy, policy_get
from arena.services.listening import ListeningEvent, ListeningState, listening_apply
from core.rows import instance_from_db, quoted, row_insert

# Sides must not be predictable from anything a client sees, so they come from the OS's randomness.
_system_random = random.SystemRandom()
LISTENING_FIELDS = [
    "ms_played_a",
    "ms_played_b",
    "seeks",
    "switches",
    "playing_side",
    "mark_position_ms",
    "mark_client_ms",
    "last_side",
]


def battle_create(
    *, rater: Rater, policy: SamplingPolicy | None = None, rng: random.Random | None = None
) -> Battle:
    """Pick a prompt and two clips with the sampling policy, shuffle the sides, and store the open battle.

    The policy may read a catalogue a few seconds old (cached); a pick that no longer holds (a clip retired, or
    no longer of that prompt, or both of one system) is caught here and made again from fresh data.
    """
    policy = policy or policy_get()
    rng = rng or _system_random
    for fresh in (False, True):
        choice = policy.choose(rater=rater, rng=rng, fresh=fresh)
        clips = _clips_still_showable(choice.clip_ids, prompt_id=choice.prompt_id)
        if len(clips) == 2 and len({clip.system_id for clip in clips.values()}) == 2:
            break
    else:
        raise NoPairAvailable()
    first, second = choice.clip_ids
    if rng.random() < 0.5:
        first, second = second, first
    now = timezone.now()
    battle = Battle(
        rater=rater,
        prompt=clips[first].prompt,
        clip_a=clips[first],
        clip_b=clips[second],
        mode=Battle.Mode.ARENA,
        expires_at=now + timedelta(seconds=settings.EARSHOT_BATTLE_TTL_SECONDS),
        **hooks.battle_suggestion(clips[first], clips[second]),
    )
    using = router.db_for_write(Battle)
    # No savepoint: nothing here is retried inside a caller's transaction, and this is the arena's hot path.
    with transaction.atomic(using=using, savepoint=False):
        # The rater's row lock serialises the rater's creates, so each one sees the battles the others made.
        if not _rater_lock(rater=rater, using=using):
            raise RaterGone()
        row_insert(battle, using=using)
        battles_abandon_beyond_cap(rater=rater, now=now, using=using)
    return battle


def battle_open_for_clips(
    *,
    rater: Rater,
    clip_a: Clip,
    clip_b: Clip,
    mode: str,
    expires_at: datetime,
    min_listen_ms: int | None = None,
    reveal_systems: bool = True,
    rng: random.Random | None = None,
) -> Battle:
    """Open a battle on two given clips of one prompt for a rater (a campaign's item), sides shuffled.

    Runs in the caller's transaction (the campaign's lease is written in the same one). The rater's open arena
    battles are left alone: a campaign battle neither counts toward nor triggers EARSHOT_MAX_OPEN_BATTLES.
    """
    if clip_a.pk == clip_b.pk or clip_a.prompt_id != clip_b.prompt_id:
        raise ValueError("a battle needs two different clips of one prompt")
    first, second = (clip_b, clip_a) if (rng or _system_random).random() < 0.5 else (clip_a, clip_b)
    battle = Battle(
        rater=rater,
        prompt=first.prompt,
        clip_a=first,
        clip_b=second,
        mode=mode,
        expires_at=expires_at,
        min_listen_ms=min_listen_ms,
        reveal_systems=reveal_systems,
    )
    row_insert(battle, using=router.db_for_write(Battle))
    return battle


def _rater_lock(*, rater: Rater, using: str) -> bool:
    """Lock the rater's row for the rest of the transaction and count the battle it opens; False if it is gone."""
    with connections[using].cursor() as cursor:
        cursor.execute(_rater_lock_sql(using), [rater.pk])
        return cursor.rowcount == 1


@lru_cache(maxsize=4)
def _rater_lock_sql(using: str) -> str:
    opened = _column(Rater, "battles_opened", using=using)
    return (  # names from the models' metadata only; the values go as parameters
        f"UPDATE {quoted(Rater, using=using)} SET {opened} = {opened} + 1 "  # noqa: S608
        f"WHERE {quoted(Rater, 'id', using=using)} = %s"
    )


def battles_abandon_beyond_cap(*, rater: Rater, now: datetime, using: str) -> int:
    """Close the rater's oldest open arena battles beyond EARSHOT_MAX_OPEN_BATTLES as abandoned, and count them on
    the rater; how many. Call it inside the transaction that locked the rater (battle_create)."""
    connection = connections[using]
    abandoned_at = Battle._meta.get_field("abandoned_at").get_db_prep_save(now, connection)
    cap = settings.EARSHOT_MAX_OPEN_BATTLES
    mine: list[int | str] = [rater.pk, Battle.Status.OPEN.value, Battle.Mode.ARENA.value]
    with connection.cursor() as cursor:
        cursor.execute(
            _abandon_sql(using),
            [Battle.Status.ABANDONED.value, abandoned_at, *mine, *mine, cap - 1],
        )
        abandoned = cursor.rowcount
        if abandoned:
            cursor.execute(_abandoned_count_sql(using), [abandoned, rater.pk])
    return abandoned


@lru_cache(maxsize=4)
def _abandon_sql(using: str) -> str:
    """One UPDATE: open arena battles of the rater older than its cap-th newest (none while it has fewer)."""
    q = partial(quoted, using=using)
    mine = f"{q(Battle, 'rater')} = %s AND {q(Battle, 'status')} = %s AND {q(Battle, 'mode')} = %s"
    status, abandoned_at = (_column(Battle, name, using=using) for name in ("status", "abandoned_at"))
    return (  # names from the models' metadata only; the values go as parameters
        f"UPDATE {q(Battle)} SET {status} = %s, {abandoned_at} = %s "  # noqa: S608
        f"WHERE {mine} AND {q(Battle, 'id')} < ("
        f"SELECT {q(Battle, 'id')} FROM {q(Battle)} WHERE {mine} "
        f"ORDER BY {q(Battle, 'id')} DESC LIMIT 1 OFFSET %s)"
    )


@lru_cache(maxsize=4)
def _abandoned_count_sql(using: str) -> str:
    abandoned = _column(Rater, "battles_abandoned", using=using)
    return (  # names from the models' metadata only; the values go as parameters
        f"UPDATE {quoted(Rater, using=using)} SET {abandoned} = {abandoned} + %s "  # noqa: S608
        f"WHERE {quoted(Rater, 'id', using=using)} = %s"
    )


def _column(model: type[Model], name: str, *, using: str) -> str:
    """A column's bare quoted name (what an UPDATE's SET takes)."""
    return connections[using].ops.quote_name(str(cast(Field, model._meta.get_field(name)).column))


def battles_expire(*, now: datetime) -> int:
    """Mark open battles past their expiry as expired (a conditional UPDATE: running it twice changes nothing);
    how many. A vote racing it is refused anyway: vote_record checks the expiry under the battle's lock."""
    return Battle.objects.filter(status=Battle.Status.OPEN, expires_at__lte=now).update(
        status=Battle.Status.EXPIRED
    )


def _clips_still_showable(clip_ids: tuple[int, int], *, prompt_id: int) -> dict[int, Clip]:
    """Those of the two clips that are still active, of an active system and of this prompt, with the prompt
    attached (what the battle's answer shows). Every new battle asks, so the query is written out."""
    using = router.db_for_read(Clip)
    found: dict[int, Clip] = {}
    for clip in Clip.objects.db_manager(using).raw(_showable_clips_sql(using), [*clip_ids, prompt_id]):
        row = clip.__dict__
        clip.prompt = instance_from_db(Prompt, using=using, values={
            "id": prompt_id, "text": row.pop("prompt_text"), "lyrics": row.pop("prompt_lyrics"),
            "reference_audio": row.pop("prompt_reference_audio")})
        found[clip.pk] = clip
    return found


@lru_cache(maxsize=4)
def _showable_clips_sql(using: str) -> str:
    q = partial(quoted, using=using)
    clip = ", ".join(q(Clip, name) for name in ("id", "system", "prompt", "duration_s"))
    prompt = ", ".join(f"{q(Prompt, name)} AS prompt_{name}" for name in ("text", "lyrics", "reference_audio"))
    return (  # names from the models' metadata only; the values go as parameters
        f"SELECT {clip}, {prompt} FROM {q(Clip)} "  # noqa: S608
        f"JOIN {q(Prompt)} ON {q(Prompt, 'id')} = {q(Clip, 'prompt')} "
        f"JOIN {q(System)} ON {q(System, 'id')} = {q(Clip, 'system')} "
        f"WHERE {q(Clip, 'id')} IN (%s, %s) AND {q(Clip, 'prompt')} = %s "
        f"AND {q(Clip, 'active')} AND {q(System, 'active')}"
    )


def battle_ensure_open(*, battle: Battle, now: datetime) -> None:
    """BattleVoted, BattleAbandoned or BattleExpired unless the battle still takes telemetry and a vote."""
    if battle.status == Battle.Status.VOTED:
        raise BattleVoted()
    if battle.status == Battle.Status.ABANDONED:
        raise BattleAbandoned()
    if battle.status == Battle.Status.EXPIRED or battle.expires_at <= now:
        raise BattleExpired(expired_at=battle.expires_at.isoformat())


def listening_budget_ms(*, battle: Battle, now: datetime) -> int:
    """How many more milliseconds of listening the server clock allows: the battle's age plus a slack, less what
    was credited already (both sides together, since the player plays one clip at a time)."""
    age_ms = int((now - battle.created_at).total_seconds() * 1000)
    return age_ms + settings.EARSHOT_LISTEN_SLACK_MS - battle.ms_played_a - battle.ms_played_b


def listening_credit(*, battle: Battle, events: Sequence[ListeningEvent], now: datetime) -> None:
    """Apply player events to the listening totals of a battle locked by the caller (the caller saves
    LISTENING_FIELDS); the credit is capped by the battle's age on the server clock."""
    state = ListeningState(
        ms_played={"a": battle.ms_played_a, "b": battle.ms_played_b},
        seeks=battle.seeks,
        switches=battle.switches,
        playing_side=battle.playing_side,
        mark_position_ms=battle.mark_position_ms,
        mark_client_ms=battle.mark_client_ms,
        last_side=battle.last_side,
    )
    listening_apply(state, events, budget_ms=listening_budget_ms(battle=battle, now=now))
    battle.ms_played_a = state.ms_played["a"]
    battle.ms_played_b = state.ms_played["b"]
    battle.seeks = state.seeks
    battle.switches = state.switches
    battle.playing_side = state.playing_side
    battle.mark_position_ms = state.mark_position_ms
    battle.mark_client_ms = state.mark_client_ms
    battle.last_side = state.last_side


def battle_events_record(
    *, battle_public_id: uuid.UUID | str, rater: Rater, events: Sequence[ListeningEvent]
) -> Battle:
    """Apply a batch of player events to the listening totals of the rater's battle, under its row lock.

    BattleNotFound for an unknown battle or another rater's; BattleVoted / BattleExpired once it takes no more.
    """
    with transaction.atomic():
        try:
            locked = Battle.objects.select_for_update().get(public_id=battle_public_id, rater=rater)
        except Battle.DoesNotExist as exc:
            raise BattleNotFound() from exc
        now = timezone.now()
        battle_ensure_open(battle=locked, now=now)
        listening_credit(battle=locked, events=events, now=now)
        locked.save(update_fields=LISTENING_FIELDS)
    return locked
