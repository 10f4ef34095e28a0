"""Domain errors of scoring (leaderboard scopes, live leaderboard sockets), each with a stable code a client can
branch on."""
from __future__ import annotations

from core.errors import InvalidInput, NotFound, RateLimited


class UnknownScope(NotFound):
    code = "unknown_scope"
    default_message = "No such leaderboard."


class TooManySockets(RateLimited):
    code = "too_many_sockets"
    default_message = "Too many live leaderboards are open from this address: close some and reconnect."


class ReadOnly(InvalidInput):
    code = "read_only"
    default_message = "This socket only sends leaderboards; votes go through the HTTP API."


class NoWeightedBoard(NotFound):
    code = "no_weighted_board"
    default_message = "This leaderboard has no reliability-weighted board."
