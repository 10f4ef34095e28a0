"""Writes of the arena: battles (creation, listening telemetry) and votes."""
from arena.services.battles import battle_create, battle_events_record
from arena.services.votes import vote_record

__all__ = ["battle_create", "battle_events_record", "vote_record"]
