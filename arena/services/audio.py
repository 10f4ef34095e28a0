"""Audio requests of a battle's clips: which bytes of the battle's copy to send, and the audio the rater fetched.

Django sees every audio request, also when the front server sends the bytes, so the fetched audio is counted here
from the Range header it parsed: the vote later checks it (arena.services.votes).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from django.db import connections, router, transaction
from django.db.models import Field
from django.utils import timezone

from arena.delivery import BattleCopy, RangeNotSatisfiable, battle_copy, byte_range
from arena.errors import BattleNotFound
from arena.models import Battle, Clip, Rater
from arena.services.listening import fetched_merge
from core.rows import instance_from_db, lock_clause, quoted, row_update


@dataclass(frozen=True)
class AudioFetch:
    """What one audio request gets: the battle, the side's copy, and the byte range (None: the whole file)."""

    battle: Battle
    copy: BattleCopy
    wanted: tuple[int, int] | None


def battle_audio_fetch(
    *, battle_public_id: uuid.UUID | str, rater: Rater | None, side: str, range_header: str | None, counted: bool
) -> AudioFetch:
    """The rater's battle side as this battle delivers it, and the satisfiable range the header asks for.

    A `counted` request (a GET: it carries audio, a HEAD does not) of an open battle adds the whole frames its
    range holds to the battle's `audio_fetched_ms`, under the battle's row lock (concurrent requests of one battle,
    e.g. the player's and the waveform's, each merge into what the other saved). BattleNotFound for an unknown
    battle or another rater's; RangeNotSatisfiable (nothing recorded) for a range outside the copy.
    """
    if rater is None:
        raise BattleNotFound()
    using = router.db_for_write(Battle)
    with transaction.atomic(using=using):
        battle = _battle_for_audio(public_id=battle_public_id, rater=rater, locked=counted, using=using)
        copy = battle_copy(battle=battle, side=side)
        try:
            wanted = byte_range(range_header, copy.size)
        except RangeNotSatisfiable as exc:
            raise RangeNotSatisfiable(str(exc), size=copy.size) from exc
        if counted and battle.status == Battle.Status.OPEN and battle.expires_at > timezone.now():
            covered = copy.audio_ms(*(wanted or (0, copy.size - 1)))
            fetched = dict(battle.audio_fetched_ms or {})
            merged = fetched_merge(fetched.get(side, []), covered) if covered else None
            if merged is not None and merged != fetched.get(side):
                fetched[side] = merged
                battle.audio_fetched_ms = fetched
                row_update(battle, fields=("audio_fetched_ms",), using=using)
    return AudioFetch(battle=battle, copy=copy, wanted=wanted)


AUDIO_BATTLE_FIELDS = ("id", "public_id", "rater", "prompt", "clip_a", "clip_b", "status", "expires_at",
                       "audio_fetched_ms")
AUDIO_CLIP_FIELDS = ("delivery", "delivery_frame_bytes", "duration_s")


@lru_cache(maxsize=8)
def _battle_for_audio_sql(using: str, locked: bool) -> str:
    """The battle (row-locked when the request counts audio) with what delivery reads of its two clips: one
    written-out query, as the vote's (the ORM's compile of the select_related read cost more CPU than the query)."""
    battle = [quoted(Battle, name, using=using) for name in AUDIO_BATTLE_FIELDS]
    quote = connections[using].ops.quote_name
    joined = [
        f"clip_{side}.{quote(str(cast(Field, Clip._meta.get_field(name)).column))} AS clip_{side}_{name}"
        for side in "ab" for name in AUDIO_CLIP_FIELDS
    ]
    clip = quoted(Clip, using=using)
    return (  # names from the models' metadata only; the values go as parameters
        f"SELECT {', '.join(battle)}, {', '.join(joined)} FROM {quoted(Battle, using=using)} "  # noqa: S608
        + "".join(f"JOIN {clip} clip_{side} ON clip_{side}.id = {quoted(Battle, f'clip_{side}', using=using)} "
                  for side in "ab")
        + f"WHERE {quoted(Battle, 'public_id', using=using)} = %s AND {quoted(Battle, 'rater', using=using)} = %s"
        + (lock_clause(Battle, using=using) if locked else "")
    )


def _battle_for_audio(*, public_id: uuid.UUID | str, rater: Rater, locked: bool, using: str) -> Battle:
    try:
        key = Battle._meta.get_field("public_id").get_db_prep_value(
            uuid.UUID(str(public_id)), connections[using], prepared=False
        )
    except ValueError as exc:
        raise BattleNotFound() from exc
    found = list(Battle.objects.db_manager(using).raw(_battle_for_audio_sql(using, locked), [key, rater.pk]))
    if not found:
        raise BattleNotFound()
    battle = found[0]
    row = battle.__dict__
    for side in "ab":
        values = {name: row.pop(f"clip_{side}_{name}") for name in AUDIO_CLIP_FIELDS}
        clip = instance_from_db(Clip, using=using, values={
            "id": getattr(battle, f"clip_{side}_id"), "prompt_id": battle.prompt_id, **values})
        setattr(battle, f"clip_{side}", clip)
    return battle
