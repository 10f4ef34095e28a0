"""Audio requests of a battle's clips: which bytes of the battle's copy to send, and the audio the rater fetched.

Django sees every audio request, also when the front server sends the bytes, so the fetched audio is counted here
from the Range header it parsed: the vote later checks it (arena.services.votes).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from arena.delivery import BattleCopy, RangeNotSatisfiable, battle_copy, byte_range
from arena.errors import BattleNotFound
from arena.models import Battle, Rater
from arena.services.listening import fetched_merge


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
    with transaction.atomic():
        battles = Battle.objects.select_related("clip_a", "clip_b")
        if counted:
            battles = battles.select_for_update(of=("self",))
        try:
            battle = battles.get(public_id=battle_public_id, rater=rater)
        except (Battle.DoesNotExist, ValidationError) as exc:
            raise BattleNotFound() from exc
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
                battle.save(update_fields=["audio_fetched_ms"])
    return AudioFetch(battle=battle, copy=copy, wanted=wanted)
