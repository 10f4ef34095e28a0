"""Live generation, the web half: moderate and route a listener's prompt, draw two systems that can serve it,
queue their generations, take ready battles from the pool, and open the battle once both clips are in.

The generations themselves run in Celery (arena.tasks.generation_run → arena.generation.run, which ingests); this
module never imports the ingest, so web processes stay free of torch. `generation_request_advance` is called by
the worker after each generation ends, and here when both clips were already made (an identical ask reuses them).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from arena import hooks
from arena.errors import GenerationNotFound, NoGeneratorAvailable, PromptRefused, RaterGone
from arena.generation.generators import Generator, generator_build
from arena.generation.moderation import moderation_get
from arena.generation.routing import ListenerInput, router_get, router_name
from arena.generation.signature import DetailedPrompt
from arena.models import Battle, Clip, Generation, GenerationRequest, Prompt, PromptOrigin, Rater, System
from arena.sampling import pair_vote_counts
from arena.services.battles import battles_abandon_beyond_cap
from core.errors import InvalidInput
from core.oncommit import enqueue_on_commit, task_by_name

logger = logging.getLogger(__name__)
_system_random = random.SystemRandom()
SEED_LIMIT = 2**31 - 1
GENERATION_TASK = "arena.tasks.generation_run"
FAILED_MESSAGE = (
    "Sorry, this battle could not be made: a system failed to generate music for it and no other system that can "
    "make this prompt is available right now. Nothing was kept half-made; try again, or take a prompt from the bank."
)


# --------------------------------------------------------------------------------------------------------------------
# Systems that can serve a prompt


@dataclass(frozen=True)
class Candidate:
    system: System
    generator: Generator


def generator_of(system: System) -> Generator | None:
    """The system's adapter, or None when it has none or its config is broken (logged: an admin must fix it)."""
    if not system.generator:
        return None
    try:
        return generator_build(path=system.generator, config=system.generator_config)
    except InvalidInput as exc:
        logger.warning("system %s: generator not usable: %s", system.slug, exc.message)
        return None


def candidates_for(prompt: DetailedPrompt, *, exclude: Sequence[int] = ()) -> list[Candidate]:
    """Active systems with a generator whose signature serves the prompt, by id."""
    found = []
    for system in System.objects.filter(active=True).exclude(generator="").exclude(pk__in=list(exclude)):
        generator = generator_of(system)
        if generator is not None and generator.declared.serves(prompt):
            found.append(Candidate(system, generator))
    return found


def _why_no_systems(prompt: DetailedPrompt) -> str:
    systems = [s for s in System.objects.filter(active=True).exclude(generator="")]
    reasons = []
    for system in systems:
        generator = generator_of(system)
        if generator is not None and (why := generator.declared.refusal(prompt)):
            reasons.append(why)
    wants = ("music with lyrics" if prompt.lyrics else
             "music with vocals" if not prompt.instrumental else "instrumental music")
    length = f" of {prompt.duration:g} s" if prompt.duration is not None else ""
    common = f" (the others: {sorted(set(reasons))[0]})" if reasons else ""
    return (f"No two systems here can make {wants}{length} right now{common}. "
            "Change the prompt or take one from the bank.")


def pair_draw(candidates: Sequence[Candidate], *, rng: random.Random) -> tuple[Candidate, Candidate]:
    """Two of the candidates, the least-voted system pairs most likely (the arena's balance rule)."""
    pairs = list(combinations(sorted(candidates, key=lambda c: c.system.pk), 2))
    counts = pair_vote_counts()
    votes = [counts.get((x.system.pk, y.system.pk), 0) for x, y in pairs]
    fewest = min(votes)
    weights = [1.0 / (1 + n - fewest) ** 2 for n in votes]
    first, second = rng.choices(pairs, weights=weights)[0]
    return (first, second) if rng.random() < 0.5 else (second, first)


def one_draw(candidates: Sequence[Candidate], *, rng: random.Random) -> Candidate:
    return rng.choice(list(candidates))


# --------------------------------------------------------------------------------------------------------------------
# Generations (shared by identical asks)


def generation_key(*, system_id: int, prompt_id: int, detailed: dict[str, object], seed: int) -> str:
    canonical = json.dumps([system_id, prompt_id, detailed, seed], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def generation_obtain(*, system: System, prompt: Prompt, detailed: DetailedPrompt, seed: int) -> Generation:
    """The generation of this system, prompt, detailed prompt and seed: the existing one (its clip reused, or its
    run joined), a failed one queued again, or a new one. A queued one is sent to the generation queue on commit."""
    data = detailed.as_json()
    key = generation_key(system_id=system.pk, prompt_id=prompt.pk, detailed=data, seed=seed)
    generation, created = Generation.objects.get_or_create(
        key=key, defaults={"system": system, "prompt": prompt, "prompt_detailed": data, "seed": seed}
    )
    again = not created and Generation.objects.filter(pk=generation.pk, status=Generation.Status.FAILED).update(
        status=Generation.Status.QUEUED, attempts=0, reason="", message="", started_at=None, finished_at=None
    )
    if created or again:
        generation.refresh_from_db()
        enqueue_on_commit(task_by_name(GENERATION_TASK), generation.pk)
    return generation


# --------------------------------------------------------------------------------------------------------------------
# Requests


def rater_hash(rater: Rater) -> str:
    """The rater's id as stored with their prompts: HMAC-SHA256 under the secret key (no raw id in exports)."""
    return hmac.new(settings.SECRET_KEY.encode(), f"rater:{rater.public_id}".encode(), hashlib.sha256).hexdigest()


def _printable(value: str) -> str:
    """What is stored of refused input: control characters (NUL included, which PostgreSQL refuses) replaced."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in value)[:20000]


def prompt_submit(
    *,
    rater: Rater,
    text: str,
    lyrics: str = "",
    duration_s: float | None = None,
    instrumental: bool | None = None,
    seed: int | None = None,
    rng: random.Random | None = None,
) -> GenerationRequest:
    """A listener's own prompt: moderated (refused: stored as refused, PromptRefused raised), routed into a detailed
    prompt, two systems that can serve it drawn, their generations queued (or reused). The request answers with
    the battle once both clips are in."""
    rng = rng or _system_random
    outcome = moderation_get().review(text=text, lyrics=lyrics)
    if not outcome.accepted:
        GenerationRequest.objects.create(
            rater=rater, rater_hash=rater_hash(rater), origin=PromptOrigin.LISTENER, text=_printable(text),
            lyrics=_printable(lyrics), moderation=GenerationRequest.Moderation.REFUSED,
            moderation_reason=outcome.reason, moderation_message=outcome.message,
            status=GenerationRequest.Status.REFUSED,
        )
        raise PromptRefused(outcome.message, reason=outcome.reason)
    detailed = router_get().route(ListenerInput(text=text, lyrics=lyrics, duration_s=duration_s,
                                                instrumental=instrumental))
    candidates = candidates_for(detailed)
    if len(candidates) < 2:
        raise NoGeneratorAvailable(_why_no_systems(detailed))
    with transaction.atomic():
        prompt = Prompt.objects.filter(
            text=detailed.overall_prompt, lyrics=detailed.lyrics or "", origin=PromptOrigin.LISTENER
        ).first() or Prompt.objects.create(
            text=detailed.overall_prompt, lyrics=detailed.lyrics or "", origin=PromptOrigin.LISTENER,
            source="listener", tags=["listener"],
        )
        return _request_start(rater=rater, origin=PromptOrigin.LISTENER, text=text, lyrics=lyrics, prompt=prompt,
                               detailed=detailed, candidates=candidates, seed=seed, rng=rng)


def _request_start(
    *, rater: Rater | None, origin: str, text: str, lyrics: str, prompt: Prompt, detailed: DetailedPrompt,
    candidates: Sequence[Candidate], seed: int | None, rng: random.Random,
) -> GenerationRequest:
    seed = seed if seed is not None else rng.randrange(SEED_LIMIT)
    first, second = pair_draw(candidates, rng=rng)
    request = GenerationRequest.objects.create(
        rater=rater, rater_hash=rater_hash(rater) if rater is not None else "", origin=origin, text=text,
        lyrics=lyrics, prompt=prompt, prompt_detailed=detailed.as_json(), router=router_name(), seed=seed,
        status=GenerationRequest.Status.GENERATING, systems_tried=[first.system.pk, second.system.pk],
        generation_a=generation_obtain(system=first.system, prompt=prompt, detailed=detailed, seed=seed),
        generation_b=generation_obtain(system=second.system, prompt=prompt, detailed=detailed, seed=seed),
    )
    return generation_request_advance(request_id=request.pk) or request


def bank_prompt_take(
    *, rater: Rater, prompt_id: int | None = None, rng: random.Random | None = None
) -> GenerationRequest:
    """A battle on a bank prompt: a ready one from the pool when there is one (no wait at all), else two systems
    generate for the prompt (the one asked for, or a bank prompt at random that two generators can serve)."""
    rng = rng or _system_random
    if prompt_id is not None and not Prompt.objects.filter(pk=prompt_id, origin=PromptOrigin.BANK).exists():
        raise InvalidInput(f"There is no bank prompt {prompt_id}.", field="prompt_id")
    claimed = pool_claim(rater=rater, prompt_id=prompt_id)
    if claimed is not None:
        return claimed
    prompts = Prompt.objects.filter(origin=PromptOrigin.BANK)
    if prompt_id is not None:
        prompts = prompts.filter(pk=prompt_id)
    ids = list(prompts.values_list("pk", flat=True)[:5000])
    rng.shuffle(ids)
    for candidate_id in ids[:50]:
        prompt = Prompt.objects.get(pk=candidate_id)
        detailed = bank_detailed(prompt)
        candidates = candidates_for(detailed)
        if len(candidates) >= 2:
            with transaction.atomic():
                return _request_start(rater=rater, origin=PromptOrigin.BANK, text=prompt.text, lyrics=prompt.lyrics,
                                      prompt=prompt, detailed=detailed, candidates=candidates, seed=None, rng=rng)
    raise NoGeneratorAvailable("No bank prompt can be made by two systems right now.")


def bank_detailed(prompt: Prompt) -> DetailedPrompt:
    routed = router_get().route(ListenerInput(text=prompt.text, lyrics=prompt.lyrics))
    if prompt.reference_audio:
        return DetailedPrompt(**{**routed.__dict__, "reference_audio": True})
    return routed


def pool_claim(*, rater: Rater, prompt_id: int | None = None) -> GenerationRequest | None:
    """Take a ready battle of the pool for the rater (SKIP LOCKED: concurrent listeners get different ones) and
    open it at once; None when the pool has none (for this prompt)."""
    with transaction.atomic():
        pooled = GenerationRequest.objects.filter(
            status=GenerationRequest.Status.READY, rater__isnull=True, battle__isnull=True,
            moderation=GenerationRequest.Moderation.ACCEPTED,
        )
        if prompt_id is not None:
            pooled = pooled.filter(prompt_id=prompt_id)
        request = _pool_pick(pooled)
        if request is None:
            return None
        request.rater = rater
        request.rater_hash = rater_hash(rater)
        request.claimed_at = timezone.now()
        request.battle = _battle_open(request=request, rater=rater)
        request.save(update_fields=["rater", "rater_hash", "claimed_at", "battle"])
        return request


def _pool_pick(pooled: QuerySet[GenerationRequest]) -> GenerationRequest | None:
    """The oldest pooled request that no other transaction holds, locked for this one until it commits: listeners
    claiming at the same moment each skip the others' and get a different one."""
    return pooled.select_for_update(skip_locked=True).order_by("id").first()


def generation_request_advance(*, request_id: int) -> GenerationRequest | None:
    """Move a generating request on, under its row lock: open the battle when both clips are in (or keep it ready
    in the pool), draw another system for a side that failed, or fail it plainly when none is left. None when the
    request was not generating any more."""
    with transaction.atomic():
        request = (GenerationRequest.objects.select_for_update(of=("self",))
                   .select_related("generation_a", "generation_b")
                   .filter(pk=request_id).first())
        if request is None or request.status != GenerationRequest.Status.GENERATING:
            return None
        for side in ("a", "b"):
            generation = getattr(request, f"generation_{side}")
            if generation.status != Generation.Status.FAILED:
                continue
            detailed = DetailedPrompt.from_json(request.prompt_detailed)
            candidates = candidates_for(detailed, exclude=request.systems_tried)
            if not candidates:
                request.status = GenerationRequest.Status.FAILED
                request.message = FAILED_MESSAGE
                request.save(update_fields=["status", "message"])
                return request
            replacement = one_draw(candidates, rng=_system_random)
            request.systems_tried = [*request.systems_tried, replacement.system.pk]
            assert request.prompt is not None
            setattr(request, f"generation_{side}", generation_obtain(
                system=replacement.system, prompt=request.prompt, detailed=detailed, seed=request.seed or 0))
            request.save(update_fields=["systems_tried", f"generation_{side}"])
        generations = (request.generation_a, request.generation_b)
        if not all(g is not None and g.status == Generation.Status.DONE for g in generations):
            return request
        request.status = GenerationRequest.Status.READY
        request.ready_at = timezone.now()
        fields = ["status", "ready_at"]
        if request.rater_id is not None:
            request.battle = _battle_open(request=request, rater=request.rater)
            fields.append("battle")
        request.save(update_fields=fields)
        return request


def _battle_open(*, request: GenerationRequest, rater: Rater | None) -> Battle:
    """The open arena battle of a request whose two clips are in (sides shuffled), in the caller's transaction:
    the rater's row lock and open-battle cap as for any new battle."""
    assert rater is not None and request.generation_a is not None and request.generation_b is not None
    clip_x, clip_y = request.generation_a.clip, request.generation_b.clip
    assert clip_x is not None and clip_y is not None
    first, second = (clip_y, clip_x) if _system_random.random() < 0.5 else (clip_x, clip_y)
    now = timezone.now()
    if not Rater.objects.filter(pk=rater.pk).update(battles_opened=F("battles_opened") + 1):
        raise RaterGone()
    battle = Battle.objects.create(
        rater=rater, prompt_id=first.prompt_id, clip_a=first, clip_b=second, mode=Battle.Mode.ARENA,
        expires_at=now + timedelta(seconds=settings.EARSHOT_BATTLE_TTL_SECONDS),
        prompt_detailed=request.prompt_detailed, **hooks.battle_suggestion(first, second),
    )
    battles_abandon_beyond_cap(rater=rater, now=now, using=battle._state.db or "default")
    return battle


# --------------------------------------------------------------------------------------------------------------------
# Reading a request's progress


@dataclass(frozen=True)
class RequestProgress:
    request: GenerationRequest
    progress: float  # 0..1
    stage: str


def generation_request_progress(*, public_id: uuid.UUID | str, rater: Rater | None, now: datetime | None = None
                                ) -> RequestProgress:
    """The rater's request with how far it got: each side counts 1 when its clip is in, and while it runs the
    share of the generator's usual time already spent (at most 0.9)."""
    if rater is None:
        raise GenerationNotFound()
    request = (GenerationRequest.objects.select_related(
        "generation_a__system", "generation_b__system", "battle__prompt", "battle__clip_a", "battle__clip_b")
        .filter(public_id=public_id, rater=rater).first())
    if request is None:
        raise GenerationNotFound()
    now = now or timezone.now()
    if request.status == GenerationRequest.Status.READY:
        return RequestProgress(request, 1.0, "ready")
    if request.status != GenerationRequest.Status.GENERATING:
        return RequestProgress(request, 0.0, str(request.status))
    shares = []
    for generation in (request.generation_a, request.generation_b):
        if generation is None:
            shares.append(0.0)
        elif generation.status == Generation.Status.DONE:
            shares.append(1.0)
        elif generation.status == Generation.Status.RUNNING and generation.started_at is not None:
            generator = generator_of(generation.system)
            expected = generator.expected_s if generator is not None else 30.0
            spent = (now - generation.started_at).total_seconds()
            shares.append(min(0.9, 0.05 + spent / max(expected, 0.1)))
        else:
            shares.append(0.02)
    done = sum(1 for share in shares if share >= 1.0)
    stage = "queued" if max(shares) < 0.05 else ("finishing" if done else "generating")
    return RequestProgress(request, round(sum(shares) / 2, 3), stage)


def listener_requests_removed(*, request_ids: Sequence[int]) -> int:
    """An admin removes listener prompts after the fact: marked removed, their clips retired and their open
    battles closed as expired; how many requests."""
    with transaction.atomic():
        requests = GenerationRequest.objects.filter(pk__in=list(request_ids), origin=PromptOrigin.LISTENER)
        prompt_ids = [pid for pid in requests.values_list("prompt_id", flat=True) if pid is not None]
        changed = requests.update(moderation=GenerationRequest.Moderation.REMOVED)
        Clip.objects.filter(prompt_id__in=prompt_ids).update(active=False)
        Battle.objects.filter(prompt_id__in=prompt_ids, status=Battle.Status.OPEN).update(
            status=Battle.Status.EXPIRED)
        GenerationRequest.objects.filter(Q(prompt_id__in=prompt_ids), ~Q(status=GenerationRequest.Status.READY),
                                         status=GenerationRequest.Status.GENERATING).update(
            status=GenerationRequest.Status.FAILED, message="This prompt was removed by a moderator.")
    return changed
