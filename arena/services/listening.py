"""Listening telemetry: turn the player's events into milliseconds played per side, seeks and switches.

Pure accounting, no database: the caller loads the state from the battle, applies a batch, and saves it back.
Also the merged intervals of audio fetched through the battle's URLs.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SIDES = ("a", "b")
EVENT_TYPES = ("play", "pause", "seek", "switch", "ended", "progress")
# A position may run a little ahead of the client clock between two events (timer jitter, decoder start-up).
CLOCK_TOLERANCE_MS = 250


@dataclass(frozen=True)
class ListeningEvent:
    """One player event: its type, the side it concerns, the position in that clip and the client's clock."""

    type: str
    side: str
    position_ms: int
    client_ms: int


@dataclass
class ListeningState:
    """Everything a battle keeps about listening between event batches."""

    ms_played: dict[str, int] = field(default_factory=lambda: {"a": 0, "b": 0})
    seeks: int = 0
    switches: int = 0
    playing_side: str = ""
    mark_position_ms: int = 0
    mark_client_ms: int | None = None
    last_side: str = ""


def listening_apply(state: ListeningState, events: Iterable[ListeningEvent], *, budget_ms: int) -> ListeningState:
    """Apply a batch of events in order; at most `budget_ms` more milliseconds are credited in all.

    While a side plays, the time credited up to an event on that side is how far its position moved, never more
    than the client clock moved; where the position cannot tell (a seek, or the other side starting without a
    pause first) the client clock's movement is credited. `budget_ms` is what the server clock still allows, so
    the two totals together never exceed the battle's real age plus a small slack, whatever the client claims.
    """
    budget = max(0, budget_ms)
    for event in events:
        if state.playing_side:
            credit = min(_credit(state, event), budget)
            budget -= credit
            state.ms_played[state.playing_side] += credit
        _transition(state, event)
    return state


def _credit(state: ListeningState, event: ListeningEvent) -> int:
    """Milliseconds the playing side played between its mark and this event."""
    if event.side == state.playing_side:
        if event.type in ("seek", "switch"):
            return _clock_credit(state, event)  # the position jumped: only the clock tells how long it played
        return _position_credit(state, event)
    if event.type == "seek":
        return 0  # a seek in the other clip does not stop the one playing
    return _clock_credit(state, event)  # the other side took over at a position this side never reported


def _position_credit(state: ListeningState, event: ListeningEvent) -> int:
    moved = max(0, event.position_ms - state.mark_position_ms)
    clock = _clock_credit(state, event)
    return min(moved, clock + CLOCK_TOLERANCE_MS) if moved else 0


def _clock_credit(state: ListeningState, event: ListeningEvent) -> int:
    if state.mark_client_ms is None or event.client_ms < state.mark_client_ms:
        return 0
    return event.client_ms - state.mark_client_ms


def _mark(state: ListeningState, event: ListeningEvent) -> None:
    state.mark_position_ms = event.position_ms
    state.mark_client_ms = event.client_ms


def _transition(state: ListeningState, event: ListeningEvent) -> None:
    playing = state.playing_side
    if event.type in ("play", "progress"):
        _heard(state, event.side)
        state.playing_side = event.side
        _mark(state, event)
    elif event.type in ("pause", "ended"):
        if playing:
            state.playing_side = ""
            _mark(state, event)
    elif event.type == "seek":
        state.seeks += 1
        if playing == event.side:
            _mark(state, event)
    elif event.type == "switch":
        _heard(state, event.side)
        if playing:
            state.playing_side = event.side
            _mark(state, event)


def _heard(state: ListeningState, side: str) -> None:
    if state.last_side and state.last_side != side:
        state.switches += 1
    state.last_side = side


def fetched_merge(covered: list[list[int]], new: tuple[int, int]) -> list[list[int]]:
    """The [start, end) intervals of `covered` with `new` added, merged, sorted (touching intervals join)."""
    merged: list[list[int]] = []
    for start, end in sorted([(start, end) for start, end in covered] + [new]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def fetched_total_ms(covered: list[list[int]]) -> int:
    """Milliseconds of the clip the merged intervals hold."""
    return sum(end - start for start, end in covered)
