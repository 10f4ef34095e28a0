"""Pair sampling for the open arena: which prompt and which two clips a rater hears next.

A policy is a class named by settings.EARSHOT_SAMPLING_POLICY. `BalancedPolicy` (the default) gives the system
pairs with the fewest votes the best odds; subclasses change the odds of system pairs or of clip pairs.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from django.conf import settings
from django.db import connections, router
from django.db.models import Count
from django.utils.module_loading import import_string

from arena.errors import NoPairAvailable
from arena.models import Battle, Clip, PromptOrigin, Rater, Vote
from core.memo import process_memo, process_memo_clear
from core.rows import quoted

CATALOGUE_CACHE_KEY = "catalogue"
PAIR_COUNTS_CACHE_KEY = "pair_counts"

SystemPair = tuple[int, int]  # (lower system id, higher system id)
ClipPair = tuple[int, int]  # (lower clip id, higher clip id)



@dataclass(frozen=True)
class CatalogueClip:
    id: int
    system_id: int
    prompt_id: int


@dataclass
class Catalogue:
    """Active clips of active systems, by prompt and system, and the system pairs that some prompt can show."""

    clips: dict[int, dict[int, list[int]]] = field(default_factory=dict)  # prompt → system → clip ids
    system_pairs: dict[SystemPair, list[int]] = field(default_factory=dict)  # pair → prompts having both

    @classmethod
    def from_clips(cls, rows: Sequence[CatalogueClip]) -> Catalogue:
        by_prompt: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            by_prompt[row.prompt_id][row.system_id].append(row.id)
        catalogue = cls()
        pairs: dict[SystemPair, list[int]] = defaultdict(list)
        for prompt_id, systems in by_prompt.items():
            if len(systems) < 2:
                continue
            catalogue.clips[prompt_id] = {system: sorted(ids) for system, ids in systems.items()}
            for pair in combinations(sorted(systems), 2):
                pairs[pair].append(prompt_id)
        catalogue.system_pairs = dict(pairs)
        return catalogue

    def clip_pairs(self, pair: SystemPair) -> list[tuple[int, ClipPair]]:
        """Every (prompt, clip pair) that shows this system pair."""
        low, high = pair
        found = []
        for prompt_id in self.system_pairs.get(pair, []):
            systems = self.clips[prompt_id]
            for clip_low in systems[low]:
                for clip_high in systems[high]:
                    found.append((prompt_id, _ordered(clip_low, clip_high)))
        return found


@dataclass(frozen=True)
class PairChoice:
    """What a policy picked: the prompt and two of its clips, in no particular side order."""

    prompt_id: int
    clip_ids: ClipPair


def _ordered(x: int, y: int) -> tuple[int, int]:
    return (x, y) if x <= y else (y, x)


def sampling_cache_clear() -> None:
    process_memo_clear()


def _cached[T](key: str, compute: Callable[[], T], *, fresh: bool) -> T:
    """The per-process memo with the sampling TTL (EARSHOT_SAMPLING_CACHE_SECONDS).

    In-process rather than the shared cache: each battle would otherwise pay two cache round trips (and Django's
    Redis backend builds a client per call) to save one cheap aggregate every few seconds per worker.
    """
    return process_memo(key, compute, seconds=settings.EARSHOT_SAMPLING_CACHE_SECONDS, fresh=fresh)


def catalogue_load(*, fresh: bool = False) -> Catalogue:
    """The arena's catalogue in one query (cached for EARSHOT_SAMPLING_CACHE_SECONDS)."""

    def compute() -> Catalogue:
        rows = Clip.objects.filter(  # listeners' own prompts stay theirs: only bank prompts are drawn for others
            active=True, system__active=True, prompt__origin=PromptOrigin.BANK
        ).values_list("id", "system_id", "prompt_id")
        return Catalogue.from_clips([CatalogueClip(*row) for row in rows])

    return _cached(CATALOGUE_CACHE_KEY, compute, fresh=fresh)


def pair_vote_counts(*, fresh: bool = False) -> dict[SystemPair, int]:
    """Arena votes per unordered system pair, aggregated with one GROUP BY (cached like the catalogue)."""

    def compute() -> dict[SystemPair, int]:
        rows = (
            Vote.objects.filter(battle__mode=Battle.Mode.ARENA)
            .values_list("system_a", "system_b")
            .annotate(n=Count("id"))
            .order_by()
        )
        counts: dict[SystemPair, int] = defaultdict(int)
        for system_a, system_b, n in rows:
            counts[_ordered(system_a, system_b)] += n
        return dict(counts)

    return _cached(PAIR_COUNTS_CACHE_KEY, compute, fresh=fresh)


def last_clip_pair(*, rater: Rater) -> ClipPair | None:
    """The clips of the rater's latest battle, which must not come straight back."""
    using = router.db_for_read(Battle)
    with connections[using].cursor() as cursor:  # every new battle asks: written out, the ORM's compile costs more
        cursor.execute(_last_clip_pair_sql(using), [rater.pk])
        last = cursor.fetchone()
    return None if last is None else _ordered(*last)


@lru_cache(maxsize=4)
def _last_clip_pair_sql(using: str) -> str:
    columns = ", ".join(quoted(Battle, name, using=using) for name in ("clip_a", "clip_b"))
    return (  # names from the model's metadata only
        f"SELECT {columns} FROM {quoted(Battle, using=using)} "  # noqa: S608
        f"WHERE {quoted(Battle, 'rater', using=using)} = %s ORDER BY {quoted(Battle, 'id', using=using)} DESC LIMIT 1"
    )


class SamplingPolicy:
    """Base of the policies: pick a prompt and two clips for `rater`, or raise NoPairAvailable."""

    def choose(self, *, rater: Rater, rng: random.Random, fresh: bool = False) -> PairChoice:
        raise NotImplementedError


class BalancedPolicy(SamplingPolicy):
    """Fewest votes first, with randomness: every system pair some prompt can show stays in rotation.

    A system pair's odds fall with the square of how many more votes it has than the least-voted pair, so new
    systems and starved pairs catch up fast while concurrent raters still spread over several pairs. Within the
    chosen system pair every (prompt, clip pair) is equally likely, except the rater's previous clip pair.
    Subclasses override `system_pair_weight` (e.g. by rating uncertainty) or `clip_pair_pick` (e.g. by a reward
    model's uncertainty on the two clips).
    """

    def system_pair_weight(self, *, pair: SystemPair, votes: int, fewest: int) -> float:
        return 1.0 / (1 + votes - fewest) ** 2

    def clip_pair_pick(
        self, *, pair: SystemPair, candidates: list[tuple[int, ClipPair]], rng: random.Random
    ) -> tuple[int, ClipPair]:
        return rng.choice(candidates)

    def choose(self, *, rater: Rater, rng: random.Random, fresh: bool = False) -> PairChoice:
        catalogue = catalogue_load(fresh=fresh)
        if not catalogue.system_pairs:
            raise NoPairAvailable()
        counts = pair_vote_counts(fresh=fresh)
        avoid = last_clip_pair(rater=rater)
        pairs = sorted(catalogue.system_pairs)
        while pairs:
            fewest = min(counts.get(pair, 0) for pair in pairs)
            weights = [self.system_pair_weight(pair=p, votes=counts.get(p, 0), fewest=fewest) for p in pairs]
            pair = rng.choices(pairs, weights=weights)[0]
            candidates = [c for c in catalogue.clip_pairs(pair) if c[1] != avoid]
            if candidates:
                prompt_id, clip_ids = self.clip_pair_pick(pair=pair, candidates=candidates, rng=rng)
                return PairChoice(prompt_id=prompt_id, clip_ids=clip_ids)
            pairs.remove(pair)
        raise NoPairAvailable(
            "There is no other pair of clips to compare right now: the arena needs more clips.",
        )


@lru_cache(maxsize=8)
def _policy_class(path: str) -> type[SamplingPolicy]:
    policy = import_string(path)
    if not (isinstance(policy, type) and issubclass(policy, SamplingPolicy)):
        raise TypeError(f"EARSHOT_SAMPLING_POLICY={path!r} is not a SamplingPolicy subclass")
    return policy


def policy_get() -> SamplingPolicy:
    """An instance of the policy settings.EARSHOT_SAMPLING_POLICY names."""
    return _policy_class(settings.EARSHOT_SAMPLING_POLICY)()
