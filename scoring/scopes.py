"""Leaderboard scopes: which votes a leaderboard counts and on which column, named like "arena:musicality".

A scope name is a base ("arena", later "campaign:<slug>") and an optional view: an axis, whose column is read
instead of the overall choice, or a subset of prompts (instrumental / with lyrics).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from arena.models import Battle, Vote
from core.axes import VOTE_AXES, Axis
from scoring.errors import UnknownScope

ARENA = "arena"
# Axis views read their own column of Vote; the overall choice is `choice`.
AXES = tuple(axis.value for axis in VOTE_AXES)
SUBSETS = ("instrumental", "lyrics")
# Prompts "with lyrics" have a non-blank lyrics field, the same rule as Prompt.has_lyrics.
_HAS_LYRICS = Q(prompt__lyrics__regex=r"\S")

_LABELS = {
    "": Axis.OVERALL.label,
    **{axis.value: axis.label for axis in VOTE_AXES},
    "instrumental": "Instrumental prompts",
    "lyrics": "Prompts with lyrics",
}


@dataclass(frozen=True)
class Scope:
    """A parsed scope: its name, the Vote column holding the outcome, and the filter choosing its votes.

    reliability_weighted: the recompute also writes a Crowd-BT board ("crowd_bt"), where each rater's votes count
    by a reliability fitted with the strengths (arena scopes: no; campaign scopes: yes).
    """

    name: str
    base: str
    view: str
    column: str
    votes_filter: Q
    reliability_weighted: bool = False

    @property
    def label(self) -> str:
        base_label = "Arena" if self.base == ARENA else self.base.split(":", 1)[1]
        return f"{base_label} · {_LABELS[self.view]}"

    @property
    def group(self) -> str:
        """The channel-layer group of the scope; group names allow only [A-Za-z0-9._-]."""
        return "leaderboard." + self.name.replace(":", ".")


def _scope_from(base: str, base_filter: Q, view: str) -> Scope:
    name = base if not view else f"{base}:{view}"
    if view in AXES:
        column = Axis(view).column
        votes_filter = base_filter & ~Q(**{column: ""})
    else:
        column = "choice"
        if view == "instrumental":
            votes_filter = base_filter & ~_HAS_LYRICS
        elif view == "lyrics":
            votes_filter = base_filter & _HAS_LYRICS
        else:
            votes_filter = base_filter
    return Scope(name=name, base=base, view=view, column=column, votes_filter=votes_filter)


def _unknown(name: str, why: str) -> UnknownScope:
    views = ", ".join((*AXES, *SUBSETS))
    return UnknownScope(
        f"No leaderboard called {name!r}: {why}. Use 'arena' or 'arena:<view>' with a view among {views}.",
        scope=name,
    )


def scope_parse(name: str) -> Scope:
    """The scope called `name`, or UnknownScope (404) saying which names exist."""
    if not isinstance(name, str) or not name or len(name) > 100:
        raise _unknown(str(name)[:100], "a scope name is 1 to 100 characters")
    parts = name.split(":")
    if parts[0] == ARENA:
        if len(parts) > 2:
            raise _unknown(name, "a scope has at most one view")
        view = parts[1] if len(parts) == 2 else ""
        if len(parts) == 2 and view not in (*AXES, *SUBSETS):
            raise _unknown(name, f"{view!r} is not a view")
        return _scope_from(ARENA, Q(battle__mode=Battle.Mode.ARENA), view)
    if parts[0] == "campaign":
        raise _unknown(name, "campaign leaderboards are not available yet")
    raise _unknown(name, f"{parts[0]!r} is not a leaderboard base")


def vote_scopes(vote: Vote) -> list[str]:
    """Names of every scope whose leaderboard this vote changes (what to recompute after it)."""
    if vote.battle.mode != Battle.Mode.ARENA:
        return []
    base = ARENA
    names = [base]
    names += [f"{base}:{axis}" for axis in AXES if getattr(vote, axis)]
    names.append(f"{base}:lyrics" if vote.prompt.has_lyrics else f"{base}:instrumental")
    return names


def scopes_all() -> list[Scope]:
    """Every arena scope, whether or not it has votes yet (campaign scopes join when campaigns exist)."""
    return [scope_parse(ARENA)] + [scope_parse(f"{ARENA}:{view}") for view in (*AXES, *SUBSETS)]


def scopes_with_votes() -> list[Scope]:
    """The scopes that count at least one vote: what the periodic full recompute goes over."""
    return [scope for scope in scopes_all() if Vote.objects.filter(scope.votes_filter).exists()]
