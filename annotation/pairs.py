"""Building a campaign's pairs (issue 14.2): regular pairs from prompts × systems (every system pair, or a balanced
design), optionally filtered and ordered by the active reward model's stored scores, or from an explicit CSV/JSONL
list; practice pairs; gold pairs (a clean clip against a damaged copy of itself, made here).

Building is idempotent: a pair of two clips already in the campaign (either way round) is skipped, and gold and
practice counts are totals, so building again with the same options adds nothing. Gold copies import audio
(annotation.gold, torch): only the `build_campaign` command and the `annotation.tasks.campaign_build` task import
this module; the admin queues that task by name.
"""
from __future__ import annotations

import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q

from annotation.designs import design_all, design_balanced, sides_balance, uncertainty
from annotation.errors import BuildRefused, CampaignNotFound
from annotation.gold import DAMAGE, damaged_copy_import
from annotation.models import Campaign, CampaignPair, GoldPair
from annotation.pair_lists import PlannedPair, pairs_from_file
from arena import hooks as arena_hooks
from arena.errors import ClipRefused
from arena.models import Clip, Prompt, System
from core.progress import Progress

Kind = CampaignPair.Kind
DESIGNS = ("all", "balanced")
RANKS = ("none", "reward")


@dataclass
class BuildSummary:
    """What a build made (per kind), what it skipped (per reason) and notes worth reading (e.g. missing clips)."""

    made: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        made = ", ".join(f"{self.made[kind]} {kind}" for kind in Kind.values)
        lines = [f"made {made}"]
        if self.skipped:
            lines.append("skipped " + ", ".join(f"{n} ({reason})" for reason, n in sorted(self.skipped.items())))
        lines.extend(f"note: {note}" for note in self.notes)
        return lines


# --- reading the catalogue -------------------------------------------------------------------------------------


def _prompts_resolve(prompt_ids: Sequence[int] | None) -> list[int]:
    if prompt_ids is None:
        return list(Prompt.objects.filter(clips__active=True).distinct().order_by("id").values_list("id", flat=True))
    wanted = sorted(set(prompt_ids))
    found = set(Prompt.objects.filter(pk__in=wanted).values_list("id", flat=True))
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        raise BuildRefused(f"no prompt with id {', '.join(missing)}", prompts=missing)
    return wanted


def _systems_resolve(system_keys: Sequence[str] | None) -> list[System]:
    if system_keys is None:
        return list(System.objects.order_by("id"))
    systems: list[System] = []
    missing: list[str] = []
    for key in dict.fromkeys(system_keys):
        system = System.objects.filter(Q(slug=key) | Q(name=key)).order_by("id").first()
        if system is None:
            missing.append(key)
        else:
            systems.append(system)
    if missing:
        raise BuildRefused(f"no system {', '.join(repr(key) for key in missing)}", systems=missing)
    return systems


def _clips_of(
    prompt_ids: Sequence[int], systems: Sequence[System], summary: BuildSummary
) -> dict[int, dict[int, int]]:
    """prompt id -> {system id: its active clip id} (the oldest where a system has several); notes what is missing."""
    names = {system.pk: system.slug for system in systems}
    clips: dict[int, dict[int, int]] = {prompt: {} for prompt in prompt_ids}
    doubles: Counter[int] = Counter()
    rows = (Clip.objects.filter(prompt_id__in=prompt_ids, system_id__in=names, active=True)
            .order_by("prompt_id", "system_id", "id").values_list("prompt_id", "system_id", "id"))
    for prompt, system, clip in rows:
        if system in clips[prompt]:
            doubles[prompt] += 1
        else:
            clips[prompt][system] = clip
    for prompt in prompt_ids:
        absent = [names[system] for system in names if system not in clips[prompt]]
        if absent and len(absent) < len(names):
            present = len(names) - len(absent)
            lost = math.comb(len(names), 2) - math.comb(present, 2)
            summary.skipped["no active clip of the system"] += lost
            summary.notes.append(f"prompt {prompt} has no active clip of {', '.join(absent)}: {lost} pair(s) not made")
        elif absent:
            summary.notes.append(f"prompt {prompt} has no active clip of any chosen system")
        if doubles[prompt]:
            summary.notes.append(f"prompt {prompt}: a system has several active clips; the oldest is used")
    return clips


def _top_k(clips: dict[int, dict[int, int]], scores: Mapping[int, float], k: int) -> dict[int, dict[int, int]]:
    """Per prompt, the k systems whose clips the model scores highest (clips without a score rank below all)."""
    kept: dict[int, dict[int, int]] = {}
    for prompt, by_system in clips.items():
        ranked = sorted(by_system.items(), key=lambda item: (item[1] not in scores, -scores.get(item[1], 0.0), item[1]))
        kept[prompt] = dict(ranked[:k])
    return kept


# --- writing ---------------------------------------------------------------------------------------------------


def _existing_pairs(campaign: Campaign) -> set[frozenset[int]]:
    rows = CampaignPair.objects.filter(campaign=campaign).values_list("clip_a_id", "clip_b_id")
    return {frozenset(row) for row in rows}


def _pairs_write(*, campaign: Campaign, planned: Iterable[PlannedPair], summary: BuildSummary) -> int:
    """Insert the planned pairs not yet in the campaign, after its last position; the caller holds the campaign's
    lock (so two builds never both add one pair)."""
    existing = _existing_pairs(campaign)
    start = (CampaignPair.objects.filter(campaign=campaign).aggregate(top=Max("position"))["top"] or 0) + 1
    rows: list[CampaignPair] = []
    for plan in planned:
        key = frozenset((plan.clip_a_id, plan.clip_b_id))
        if key in existing:
            summary.skipped["already in the campaign"] += 1
            continue
        existing.add(key)
        rows.append(CampaignPair(
            campaign=campaign, prompt_id=plan.prompt_id, clip_a_id=plan.clip_a_id, clip_b_id=plan.clip_b_id,
            kind=plan.kind, overlap=campaign.overlap, position=start + len(rows),
        ))
    CampaignPair.objects.bulk_create(rows)
    for row in rows:
        summary.made[row.kind] += 1
    return len(rows)


def _campaign_lock(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def regular_pairs_plan(
    *,
    prompt_ids: Sequence[int] | None,
    system_keys: Sequence[str] | None,
    design: str = "all",
    pairs_per_prompt: int | None = None,
    rank: str = "none",
    top_k: int | None = None,
    seed: int = 0,
    summary: BuildSummary,
) -> list[PlannedPair]:
    """The regular pairs to make, in pool order, sides balanced. Raises BuildRefused for bad options."""
    if design not in DESIGNS:
        raise BuildRefused(f"design must be one of {', '.join(DESIGNS)}, not {design!r}")
    if rank not in RANKS:
        raise BuildRefused(f"rank must be one of {', '.join(RANKS)}, not {rank!r}")
    if design == "balanced" and (pairs_per_prompt is None or pairs_per_prompt < 1):
        raise BuildRefused("the balanced design needs pairs per prompt (1 or more)")
    if design == "all" and pairs_per_prompt is not None:
        raise BuildRefused("pairs per prompt applies to the balanced design only")
    if top_k is not None and top_k < 2:
        raise BuildRefused("top-k must keep at least 2 systems per prompt")
    prompts = _prompts_resolve(prompt_ids)
    systems = _systems_resolve(system_keys)
    if len(systems) < 2:
        raise BuildRefused("a pair needs two systems: choose at least 2")
    clips = _clips_of(prompts, systems, summary)
    scores: dict[int, float] = {}
    if rank == "reward" or top_k is not None:
        scores = arena_hooks.clip_scores([clip for by_system in clips.values() for clip in by_system.values()])
        if not scores:
            raise BuildRefused("no active reward model, or it has scored none of these clips: rank and top-k need "
                               "its scores (activate a version and let it score the clips first)")
        unscored = sum(1 for by_system in clips.values() for clip in by_system.values() if clip not in scores)
        if unscored:
            summary.notes.append(f"{unscored} clip(s) have no score from the active reward model")
    if top_k is not None:
        clips = _top_k(clips, scores, top_k)
    systems_by_prompt = {prompt: sorted(by_system) for prompt, by_system in clips.items() if len(by_system) >= 2}
    if design == "all":
        chosen = design_all(systems_by_prompt)
    else:
        chosen = design_balanced(systems_by_prompt, pairs_per_prompt=pairs_per_prompt or 0, rng=random.Random(seed))
    # Pool order without a model: round by round across prompts (each prompt's first pair, then each second...).
    rounds = [(index, prompt, pair) for prompt in sorted(chosen) for index, pair in enumerate(chosen[prompt])]
    rounds.sort(key=lambda item: (item[0], item[1]))
    oriented = sides_balance([pair for _, _, pair in rounds])
    planned = [PlannedPair(prompt, clips[prompt][a], clips[prompt][b])
               for (_, prompt, _), (a, b) in zip(rounds, oriented, strict=True)]
    if rank == "reward":
        # The pairs the model is least sure of first; pairs it cannot judge (a clip unscored) last, in design order.
        def key(item: tuple[int, PlannedPair]) -> tuple[bool, float, int]:
            index, plan = item
            known = plan.clip_a_id in scores and plan.clip_b_id in scores
            doubt = uncertainty(scores[plan.clip_a_id], scores[plan.clip_b_id]) if known else 0.0
            return (not known, doubt, index)

        planned = [plan for _, plan in sorted(enumerate(planned), key=key)]
    return planned


def practice_pairs_plan(
    *, campaign: Campaign, count: int, prompt_ids: Sequence[int] | None, system_keys: Sequence[str] | None,
    seed: int = 0,
) -> list[PlannedPair]:
    """Up to `count` practice pairs, from prompts outside the study first (so practice does not preview its
    pairs), then from pairs of its prompts not in the campaign."""
    systems = [system.pk for system in _systems_resolve(system_keys)]
    study = set(_prompts_resolve(prompt_ids)) if prompt_ids is not None else set(
        CampaignPair.objects.filter(campaign=campaign, kind=Kind.REGULAR).values_list("prompt_id", flat=True)
    )
    taken = _existing_pairs(campaign)
    rows = (Clip.objects.filter(system_id__in=systems, active=True).order_by("prompt_id", "system_id", "id")
            .values_list("prompt_id", "system_id", "id"))
    by_prompt: dict[int, dict[int, int]] = defaultdict(dict)
    for prompt, system, clip in rows:
        by_prompt[prompt].setdefault(system, clip)
    candidates: list[tuple[bool, float, PlannedPair]] = []
    rng = random.Random(seed)
    for prompt, by_system in by_prompt.items():
        for a, b in itertools.combinations(sorted(by_system), 2):
            if frozenset((by_system[a], by_system[b])) in taken:
                continue
            plan = PlannedPair(prompt, by_system[a], by_system[b], kind=Kind.PRACTICE)
            candidates.append((prompt in study, rng.random(), plan))
    candidates.sort(key=lambda item: (item[0], item[1]))
    return [plan for _, _, plan in candidates[:count]]


def gold_clean_clips(*, campaign: Campaign, count: int, seed: int = 0) -> list[Clip]:
    """Up to `count` clean clips for new gold items: clips of the campaign's regular pairs without a gold item
    yet, spread over systems (round-robin, a fixed random order within each system)."""
    used = set(GoldPair.objects.filter(pair__campaign=campaign).values_list("clean_clip_id", flat=True))
    ids: set[int] = set()
    for a, b in CampaignPair.objects.filter(campaign=campaign, kind=Kind.REGULAR).values_list("clip_a_id", "clip_b_id"):
        ids.update((a, b))
    clips = list(Clip.objects.filter(pk__in=ids - used, active=True).select_related("system", "prompt").order_by("id"))
    rng = random.Random(seed)
    by_system: dict[int, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_system[clip.system_id].append(clip)
    for group in by_system.values():
        rng.shuffle(group)
    chosen: list[Clip] = []
    queues = [by_system[system] for system in sorted(by_system)]
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop())
    return chosen


def gold_pair_make(*, campaign: Campaign, clean: Clip, damaged_first: bool, target: int) -> CampaignPair | None:
    """One gold item: the damaged copy of `clean` (imported inactive) against it. None when the campaign reached
    `target` gold items or `clean` got one meanwhile (another build)."""
    with transaction.atomic():
        campaign = _campaign_lock(campaign)
        gold = GoldPair.objects.filter(pair__campaign=campaign)
        if gold.count() >= target or gold.filter(clean_clip=clean).exists():
            return None
        damaged, created = damaged_copy_import(clean=clean)
        try:
            first, second = (damaged, clean) if damaged_first else (clean, damaged)
            if frozenset((first.pk, second.pk)) in _existing_pairs(campaign):
                return None
            position = (CampaignPair.objects.filter(campaign=campaign).aggregate(top=Max("position"))["top"] or 0) + 1
            pair = CampaignPair.objects.create(
                campaign=campaign, prompt=clean.prompt, clip_a=first, clip_b=second, kind=Kind.GOLD,
                overlap=campaign.overlap, position=position,
            )
            GoldPair.objects.create(pair=pair, clean_clip=clean, damaged_clip=damaged, damage=DAMAGE)
        except BaseException:
            if created:  # the rolled-back row leaves its files: delete them
                for stored in (damaged.original.name, damaged.delivery.name):
                    if stored:
                        default_storage.delete(stored)
            raise
    return pair


# --- the whole build -------------------------------------------------------------------------------------------


def campaign_build(
    *,
    campaign: Campaign | int | str,
    prompt_ids: Sequence[int] | None = None,
    system_keys: Sequence[str] | None = None,
    design: str = "all",
    pairs_per_prompt: int | None = None,
    rank: str = "none",
    top_k: int | None = None,
    source: Path | None = None,
    gold: int = 0,
    practice: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
) -> BuildSummary:
    """Build the campaign's pairs: regular ones (from prompts × systems, or from `source`, a CSV/JSONL list), then
    `practice` and `gold` items in total (existing ones count). Regular and practice pairs are written in one
    transaction, whole or not at all; each gold item in its own (its audio takes a moment), so an interrupted
    build is finished by running it again. `campaign` is the campaign, its id or its slug."""
    campaign = _campaign_get(campaign)
    if gold < 0 or practice < 0:
        raise BuildRefused("gold and practice counts cannot be negative")
    if source is not None and (design != "all" or pairs_per_prompt is not None or rank != "none" or top_k):
        raise BuildRefused("a pair list from a file takes no design, ranking or top-k")
    report = progress or (lambda stage, done, total, figures: None)
    summary = BuildSummary()
    if source is not None:
        planned = pairs_from_file(path=source)
    else:
        planned = regular_pairs_plan(prompt_ids=prompt_ids, system_keys=system_keys, design=design,
                                     pairs_per_prompt=pairs_per_prompt, rank=rank, top_k=top_k, seed=seed,
                                     summary=summary)
    report("pairs", 0, len(planned), {})
    with transaction.atomic():
        campaign = _campaign_lock(campaign)
        _pairs_write(campaign=campaign, planned=planned, summary=summary)
        report("pairs", len(planned), len(planned), {"made": summary.made[Kind.REGULAR]})
        if practice:
            have = CampaignPair.objects.filter(campaign=campaign, kind=Kind.PRACTICE).count()
            wanted = max(0, practice - have)
            chosen = practice_pairs_plan(campaign=campaign, count=wanted, prompt_ids=prompt_ids,
                                         system_keys=system_keys, seed=seed) if wanted else []
            _pairs_write(campaign=campaign, planned=chosen, summary=summary)
            if len(chosen) < wanted:
                summary.notes.append(f"only {have + len(chosen)} practice pair(s) possible of {practice} asked")
            if campaign.practice_items < practice:
                Campaign.objects.filter(pk=campaign.pk).update(practice_items=practice)
                summary.notes.append(f"the campaign now shows {practice} practice item(s) first")
    if gold:
        _gold_build(campaign=campaign, target=gold, seed=seed, summary=summary, report=report)
    return summary


def _gold_build(
    *, campaign: Campaign, target: int, seed: int, summary: BuildSummary, report: Progress
) -> None:
    have = GoldPair.objects.filter(pair__campaign=campaign).count()
    wanted = max(0, target - have)
    if have:
        summary.skipped["gold already in the campaign"] += min(have, target)
    cleans = gold_clean_clips(campaign=campaign, count=wanted, seed=seed)
    if len(cleans) < wanted:
        summary.notes.append(f"only {len(cleans)} clean clip(s) left for the {wanted} new gold item(s) asked")
    report("gold", 0, len(cleans), {})
    for index, clean in enumerate(cleans):
        try:
            made = gold_pair_make(campaign=campaign, clean=clean, damaged_first=(have + index) % 2 == 1,
                                  target=target)
        except ClipRefused as exc:
            summary.skipped["clean clip cannot be decoded"] += 1
            summary.notes.append(exc.message)
            made = None
        if made is not None:
            summary.made[Kind.GOLD] += 1
        report("gold", index + 1, len(cleans), {"made": summary.made[Kind.GOLD]})


def _campaign_get(campaign: Campaign | int | str) -> Campaign:
    if isinstance(campaign, Campaign):
        return campaign
    found = Campaign.objects.filter(**({"pk": campaign} if isinstance(campaign, int) else {"slug": campaign})).first()
    if found is None:
        raise CampaignNotFound(f"No campaign {campaign!r}.")
    return found
