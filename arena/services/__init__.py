"""Writes of the arena: battles (creation, listening telemetry, audio fetched) and votes."""
from arena.services.audio import battle_audio_fetch
from arena.services.battles import battle_create, battle_events_record
from arena.services.votes import vote_record

__all__ = ["battle_audio_fetch", "battle_create", "battle_events_record", "vote_record"]
