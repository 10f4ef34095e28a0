"""The ready pool: EARSHOT_POOL_READY_PER_PAIR battles per pair of generator systems, made in the background on
bank prompts, so a listener who takes a prompt from the bank never waits on generation. Beat refills it
(arena.tasks.generation_pool_refill); a listener's claim is arena.services.generation.pool_claim."""
from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from itertools import combinations

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from arena.generation.routing import router_name
from arena.models import Generation, GenerationRequest, Prompt, PromptOrigin
from arena.services.generation import (
    GENERATION_TASK,
    SEED_LIMIT,
    Candidate,
    bank_detailed,
    candidates_for,
    generation_obtain,
)
from core.oncommit import enqueue_on_commit, task_by_name

_system_random = random.SystemRandom()
BANK_PROMPTS_READ = 2000


def pool_pair_counts() -> Counter[tuple[int, int]]:
    """Pool requests (generating or ready, not yet claimed) per unordered system pair."""
    rows = GenerationRequest.objects.filter(
        rater__isnull=True, battle__isnull=True,
        status__in=[GenerationRequest.Status.GENERATING, GenerationRequest.Status.READY],
    ).values_list("generation_a__system_id", "generation_b__system_id")
    return Counter(tuple(sorted((a, b))) for a, b in rows if a is not None and b is not None)  # type: ignore[misc]


def generation_pool_refill(*, rng: random.Random | None = None, per_pair: int | None = None) -> int:
    """Queue pool requests for every system pair short of its share; how many were queued."""
    rng = rng or _system_random
    per_pair = settings.EARSHOT_POOL_READY_PER_PAIR if per_pair is None else per_pair
    if per_pair <= 0:
        return 0
    prompts = list(Prompt.objects.filter(origin=PromptOrigin.BANK).order_by("?")[:BANK_PROMPTS_READ])
    if not prompts:
        return 0
    counts = pool_pair_counts()
    queued = 0
    servable: dict[int, dict[int, Candidate]] = {}
    for prompt in prompts:
        servable[prompt.pk] = {c.system.pk: c for c in candidates_for(bank_detailed(prompt))}
    systems = sorted({system for found in servable.values() for system in found})
    for pair in combinations(systems, 2):
        missing = per_pair - counts.get(pair, 0)
        fitting = [p for p in prompts if pair[0] in servable[p.pk] and pair[1] in servable[p.pk]]
        for _ in range(max(missing, 0)):
            if not fitting:
                break
            prompt = rng.choice(fitting)
            detailed = bank_detailed(prompt)
            seed = rng.randrange(SEED_LIMIT)
            first, second = (servable[prompt.pk][system] for system in pair)
            with transaction.atomic():
                GenerationRequest.objects.create(
                    origin=PromptOrigin.BANK, text=prompt.text, lyrics=prompt.lyrics, prompt=prompt,
                    prompt_detailed=detailed.as_json(), router=router_name(), seed=seed,
                    status=GenerationRequest.Status.GENERATING, systems_tried=list(pair),
                    generation_a=generation_obtain(system=first.system, prompt=prompt, detailed=detailed, seed=seed),
                    generation_b=generation_obtain(system=second.system, prompt=prompt, detailed=detailed,
                                                   seed=seed),
                )
            queued += 1
    return queued


def generations_stale_resend(*, now: datetime, older_than_s: float = 300.0) -> int:
    """Send again generations queued or running for longer than `older_than_s` beyond their start (a worker died or
    a message was lost); the attempt itself tells a live run from a dead one by its start time and timeout."""
    before = now - timedelta(seconds=older_than_s)
    stale = list(Generation.objects.filter(
        Q(status=Generation.Status.QUEUED, created_at__lt=before)
        | Q(status=Generation.Status.RUNNING, started_at__lt=before)
    ).values_list("pk", flat=True)[:1000])
    for generation_id in stale:
        enqueue_on_commit(task_by_name(GENERATION_TASK), generation_id)
    return len(stale)
