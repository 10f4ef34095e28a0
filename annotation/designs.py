"""The designs of a campaign's pairs, as pure functions of ids (no Django): every system pair, a balanced design,
sides balanced by an Eulerian orientation, and the reward model's uncertainty about a pair."""
from __future__ import annotations

import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any


def design_all(systems_by_prompt: Mapping[int, Sequence[int]]) -> dict[int, list[tuple[int, int]]]:
    """Every pair of the prompt's systems, for every prompt."""
    return {prompt: list(itertools.combinations(sorted(systems), 2)) for prompt, systems in systems_by_prompt.items()}


def design_balanced(
    systems_by_prompt: Mapping[int, Sequence[int]], *, pairs_per_prompt: int, rng: random.Random
) -> dict[int, list[tuple[int, int]]]:
    """`pairs_per_prompt` system pairs per prompt (or all it has, if fewer), chosen so that every system pair
    appears equally often over the prompts.

    Each pick takes the prompt's least-used system pair (then the one whose systems were used least, then a fixed
    random order): a water-filling, so pair counts never differ by more than one, and are equal when every prompt
    has every system and prompts × pairs_per_prompt is a multiple of the number of system pairs.
    """
    every = sorted({pair for systems in systems_by_prompt.values()
                    for pair in itertools.combinations(sorted(systems), 2)})
    order = {pair: rng.random() for pair in every}
    pair_uses: Counter[tuple[int, int]] = Counter()
    system_uses: Counter[int] = Counter()
    design: dict[int, list[tuple[int, int]]] = {}
    for prompt in sorted(systems_by_prompt):
        left = list(itertools.combinations(sorted(systems_by_prompt[prompt]), 2))
        chosen: list[tuple[int, int]] = []
        for _ in range(min(pairs_per_prompt, len(left))):
            best = min(left, key=lambda p: (pair_uses[p], system_uses[p[0]] + system_uses[p[1]], order[p]))
            left.remove(best)
            chosen.append(best)
            pair_uses[best] += 1
            system_uses[best[0]] += 1
            system_uses[best[1]] += 1
        design[prompt] = chosen
    return design


def sides_balance(edges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The same pairs, each oriented (first = side A) so that every system is side A within one of as often as it
    is side B: the orientation of an Eulerian circuit of the multigraph, after joining the odd-degree systems to
    one extra vertex (each system then loses at most one edge of its circuit, hence the "within one")."""
    extra = object()
    adjacency: dict[Any, list[tuple[Any, int]]] = defaultdict(list)
    ends: list[tuple[Any, Any]] = [(a, b) for a, b in edges]
    degree: Counter[Any] = Counter()
    for a, b in edges:
        degree[a] += 1
        degree[b] += 1
    for system in sorted(s for s, d in degree.items() if d % 2):
        ends.append((system, extra))
    for index, (a, b) in enumerate(ends):
        adjacency[a].append((b, index))
        adjacency[b].append((a, index))
    used = [False] * len(ends)
    oriented: dict[int, tuple[Any, Any]] = {}
    cursor: Counter[Any] = Counter()
    for start in list(adjacency):
        stack = [start]
        while stack:
            vertex = stack[-1]
            neighbours = adjacency[vertex]
            while cursor[vertex] < len(neighbours) and used[neighbours[cursor[vertex]][1]]:
                cursor[vertex] += 1
            if cursor[vertex] == len(neighbours):
                stack.pop()
                continue
            other, index = neighbours[cursor[vertex]]
            used[index] = True
            oriented[index] = (vertex, other)
            stack.append(other)
    return [oriented[index] for index in range(len(edges))]  # type: ignore[misc]


def preference_probability(score_a: float, score_b: float) -> float:
    """P(A preferred to B) under the reward model's Bradley-Terry reading of its scores (as reward.selectors)."""
    difference = score_a - score_b
    if difference >= 0:
        return 1.0 / (1.0 + math.exp(-difference))
    odds = math.exp(difference)
    return odds / (1.0 + odds)


def uncertainty(score_a: float, score_b: float) -> float:
    """|P(A > B) - 0.5|: 0 for a pair the model cannot call, towards 0.5 for one it is sure of."""
    return abs(preference_probability(score_a, score_b) - 0.5)
