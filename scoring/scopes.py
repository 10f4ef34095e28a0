"""Leaderboard scopes: which votes a leaderboard counts and on which column, named like "arena:musicality".

A scope name is a base ("arena", later "campaign:<slug>") and an optional view: an axis, whose column is read
instead of the overall choice, or a subset of prompts (instrumental / with lyrics).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from arena.models import Battle, Vote
from core.axes import VOTE_AXES, Axis
from scoring.errors import UnknownScope

ARENA = "arena"
# Axis views read their own column of Vote; the overall choice is `choice`.
AXES = tuple(axis.value for axis in VOTE_AXES)
SUBSETS = ("instrumental", "lyrics")
# The arena's boards by where the prompt came from: the bank, or listeners who wrote their own (live generation).
ORIGINS = ("bank", "listener")
# Prompts "with lyrics" have a non-blank lyrics field, the same rule as Prompt.has_lyrics.
_HAS_LYRICS = Q(prompt__lyrics__regex=r"\S")

_LABELS = {
    "": Axis.OVERALL.label,
    **{axis.value: axis.label for axis in VOTE_AXES},
    "instrumental": "Instrumental prompts",
    "lyrics": "Prompts with lyrics",
    "bank": "Bank prompts",
    "listener": "Listeners' own prompts",
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


@dataclass(frozen=True)
class ScopeBase:
    """A family of leaderboards an upper app defines ("campaign:<slug>"), registered from its AppConfig.ready().

    `votes_filter(key)` is the Vote filter of the base named `<prefix>:<key>` (None: no such base);
    `names()` every such base that exists; `of_vote(vote)` the base a vote counts on (None: it counts on none).
    """

    prefix: str
    votes_filter: Callable[[str], Q | None]
    names: Callable[[], list[str]]
    of_vote: Callable[[Vote], str | None]
    reliability_weighted: bool = False


_bases: dict[str, ScopeBase] = {}


@dataclass(frozen=True)
class ArenaExtra:
    """Votes outside the arena's own battles that an admin lets count on the arena's board (imported datasets).

    `votes_filter()` the Vote filter of those votes (None: none counts now, and the arena's filter is its own);
    `counts(vote)` whether this vote is one of them.
    """

    votes_filter: Callable[[], Q | None]
    counts: Callable[[Vote], bool]


_arena_extras: dict[str, ArenaExtra] = {}


def arena_extra_register(key: str, extra: ArenaExtra) -> None:
    """Add (or replace) a provider of votes the arena's board counts besides its own battles."""
    _arena_extras[key] = extra


def _arena_filter(*, extras: bool = True) -> Q:
    votes_filter = Q(battle__mode=Battle.Mode.ARENA)
    for extra in _arena_extras.values() if extras else ():
        more = extra.votes_filter()
        if more is not None:
            votes_filter |= more
    return votes_filter


def scope_base_register(base: ScopeBase) -> None:
    """Add (or replace) a family of scopes; the arena's own base is built in."""
    if base.prefix == ARENA or not base.prefix.isidentifier():
        raise ValueError(f"{base.prefix!r} cannot name a family of leaderboards")
    _bases[base.prefix] = base


def _scope_from(base: str, base_filter: Q, view: str, *, reliability_weighted: bool = False) -> Scope:
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
        elif view in ORIGINS:
            votes_filter = base_filter & Q(prompt__origin=view)
        else:
            votes_filter = base_filter
    return Scope(
        name=name, base=base, view=view, column=column, votes_filter=votes_filter,
        reliability_weighted=reliability_weighted,
    )


def _unknown(name: str, why: str) -> UnknownScope:
    views = ", ".join((*AXES, *SUBSETS, *ORIGINS))
    families = "".join(f" or '{prefix}:<name>[:<view>]'" for prefix in _bases)
    return UnknownScope(
        f"No leaderboard called {name!r}: {why}. Use 'arena'{families} or 'arena:<view>' with a view among {views}.",
        scope=name,
    )


def scope_parse(name: str) -> Scope:
    """The scope called `name`, or UnknownScope (404) saying which names exist."""
    return _scope_parse(name, extras=True)


def scope_name_check(name: str) -> str:
    """The name if it names a scope, else UnknownScope; the arena's filter for votes from elsewhere (imported sources
    an admin lets count) is not built (the vote path checks names and needs no filter)."""
    return _scope_parse(name, extras=False).name


def _scope_parse(name: str, *, extras: bool) -> Scope:
    if not isinstance(name, str) or not name or len(name) > 100:
        raise _unknown(str(name)[:100], "a scope name is 1 to 100 characters")
    parts = name.split(":")
    if parts[0] == ARENA:
        if len(parts) > 2:
            raise _unknown(name, "a scope has at most one view")
        view = parts[1] if len(parts) == 2 else ""
        if len(parts) == 2 and view not in (*AXES, *SUBSETS, *ORIGINS):
            raise _unknown(name, f"{view!r} is not a view")
        return _scope_from(ARENA, _arena_filter(extras=extras), view)
    family = _bases.get(parts[0])
    if family is None:
        raise _unknown(name, f"{parts[0]!r} is not a leaderboard base")
    if len(parts) < 2 or not parts[1] or len(parts) > 3:
        raise _unknown(name, f"a {family.prefix} leaderboard is named '{family.prefix}:<name>' and at most one view")
    view = parts[2] if len(parts) == 3 else ""
    if view and view not in (*AXES, *SUBSETS):
        raise _unknown(name, f"{view!r} is not a view")
    base_filter = family.votes_filter(parts[1])
    if base_filter is None:
        raise _unknown(name, f"there is no {family.prefix} called {parts[1]!r}")
    return _scope_from(
        f"{family.prefix}:{parts[1]}", base_filter, view, reliability_weighted=family.reliability_weighted
    )


def vote_scopes(vote: Vote) -> list[str]:
    """Names of every scope whose leaderboard this vote changes (what to recompute after it)."""
    bases: list[str] = []
    if vote.battle.mode == Battle.Mode.ARENA:
        bases.append(ARENA)
    else:
        found = [name for name in (family.of_vote(vote) for family in _bases.values()) if name]
        bases += found[:1]
        if any(extra.counts(vote) for extra in _arena_extras.values()):
            bases.insert(0, ARENA)
    names: list[str] = []
    for base in bases:
        names.append(base)
        names += [f"{base}:{axis}" for axis in AXES if getattr(vote, axis)]
        names.append(f"{base}:lyrics" if vote.prompt.has_lyrics else f"{base}:instrumental")
        if base == ARENA:
            names.append(f"{base}:{vote.prompt.origin}")
    return names


def scopes_all(*, families: bool = True) -> list[Scope]:
    """Every scope, whether or not it has votes yet: the arena's and (unless `families` is False: no database read)
    those of each registered family's bases."""
    bases = [ARENA] + ([name for family in _bases.values() for name in family.names()] if families else [])
    names = [name for base in bases for name in (base, *(f"{base}:{view}" for view in (*AXES, *SUBSETS)))]
    names += [f"{ARENA}:{origin}" for origin in ORIGINS]
    return [_scope_parse(name, extras=families) for name in names]


def scopes_with_votes() -> list[Scope]:
    """The scopes that count at least one vote: what the periodic full recompute goes over."""
    return [scope for scope in scopes_all() if Vote.objects.filter(scope.votes_filter).exists()]
