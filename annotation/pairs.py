"""Building a campaign's pairs (issue 14.2): regular pairs from prompts × systems (every system pair, or a balanced
design), optionally filtered and ordered by the active reward model's stored scores, or from an explicit CSV/JSONL
list; practice pairs; gold pairs (a clean clip against a damaged copy of itself, made here).

Building is idempotent: a pair of two clips already in the campaign (either way round) is skipped, and gold and
practice counts are totals, so building again with the same options adds nothing. Gold copies import audio
(annotation.gold, torch): only the `build_campaign` command and the `annotation.tasks.campaign_build` task import
this module; the admin queues that task by name.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q

from annotation.errors import BuildRefused, CampaignNotFound
from annotation.gold import DAMAGE, damaged_copy_import
from annotation.models import Campaign, CampaignPair, GoldPair
from arena import hooks as arena_hooks
from arena.errors import ClipRefused
from arena.models import Clip, Prompt, System
from core.progress import Progress

Kind = CampaignPair.Kind
DESIGNS = ("all", "balanced")
RANKS = ("none", "reward")
SOURCE_SUFFIXES = (".csv", ".jsonl")
MAX_REFUSALS_SHOWN = 50


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


@dataclass(frozen=True)
class PlannedPair:
    prompt_id: int
    clip_a_id: int
    clip_b_id: int
    kind: str = Kind.REGULAR


# --- the designs: pure functions of ids -------------------------------------------------------------------------


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


# --- from a file -----------------------------------------------------------------------------------------------


def _source_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, the row: a dict, or a string saying why the line is not one) for each non-blank line."""
    suffix = path.suffix.lower()
    if suffix not in SOURCE_SUFFIXES:
        raise BuildRefused(f"{path.name}: a pair list must be .csv or .jsonl")
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise BuildRefused(f"{path}: the file cannot be read ({exc.strerror})") from exc
    with handle:
        try:
            if suffix == ".csv":
                reader = csv.DictReader(handle)
                for row in reader:
                    if any((value or "").strip() for value in row.values() if isinstance(value, str)):
                        yield reader.line_num, row
                return
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
                    continue
                yield number, entry if isinstance(entry, dict) else "each line must be a JSON object"
        except UnicodeDecodeError as exc:
            raise BuildRefused(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key} must be a string, not {json.dumps(value)[:40]}")
    return str(value).strip()


def _source_line(entry: Mapping[str, Any]) -> PlannedPair:
    """One line of a pair list as a planned pair; raises ValueError saying what is wrong with it."""
    if None in entry:  # csv: more fields than the header names
        raise ValueError("more fields than the header names")
    kind = _text(entry, "kind") or Kind.REGULAR
    if kind not in (Kind.REGULAR, Kind.PRACTICE):
        raise ValueError(f"kind must be regular or practice, not {kind!r}")
    prompt_text = _text(entry, "prompt_id")
    prompt_id: int | None = None
    if prompt_text:
        if not prompt_text.isdigit() or not 1 <= int(prompt_text) < 2**63:
            raise ValueError(f"prompt_id must be a positive integer id, not {prompt_text[:40]!r}")
        prompt_id = int(prompt_text)
        if not Prompt.objects.filter(pk=prompt_id).exists():
            raise ValueError(f"prompt {prompt_id} does not exist")
    by_clip = _text(entry, "clip_a"), _text(entry, "clip_b")
    by_system = _text(entry, "system_a"), _text(entry, "system_b")
    if any(by_clip) and any(by_system):
        raise ValueError("give clip_a/clip_b or system_a/system_b, not both")
    if any(by_clip):
        if not all(by_clip):
            raise ValueError("both clip_a and clip_b are needed")
        clips = []
        for side, public_id in zip("ab", by_clip, strict=True):
            clip = Clip.objects.filter(public_id=public_id).first()
            if clip is None:
                raise ValueError(f"clip_{side} {public_id!r} does not exist")
            if not clip.active:
                raise ValueError(f"clip_{side} {public_id!r} is not active")
            clips.append(clip)
        if clips[0].prompt_id != clips[1].prompt_id:
            raise ValueError("clip_a and clip_b are clips of different prompts")
        if prompt_id is not None and clips[0].prompt_id != prompt_id:
            raise ValueError(f"the clips are not clips of prompt {prompt_id}")
    elif any(by_system):
        if not all(by_system):
            raise ValueError("both system_a and system_b are needed")
        if prompt_id is None:
            raise ValueError("a line naming systems needs a prompt_id")
        clips = []
        for side, key in zip("ab", by_system, strict=True):
            system = System.objects.filter(slug=key).first()
            if system is None:
                raise ValueError(f"system_{side} {key!r} does not exist")
            clip = Clip.objects.filter(prompt_id=prompt_id, system=system, active=True).order_by("id").first()
            if clip is None:
                raise ValueError(f"prompt {prompt_id} has no active clip of system {key!r}")
            clips.append(clip)
    else:
        raise ValueError("each line needs clip_a and clip_b (clip ids), or prompt_id with system_a and system_b")
    if clips[0].pk == clips[1].pk:
        raise ValueError("clip_a and clip_b are the same clip")
    return PlannedPair(clips[0].prompt_id, clips[0].pk, clips[1].pk, kind=kind)


def pairs_from_file(*, path: Path) -> list[PlannedPair]:
    """Every line of a CSV (with a header) or JSONL pair list as a planned pair, in the file's order and sides.
    Any bad line refuses the whole list: BuildRefused names each one (`details["lines"]`)."""
    planned: list[PlannedPair] = []
    refusals: list[str] = []
    seen: dict[frozenset[int], int] = {}
    for number, entry in _source_rows(path):
        try:
            if isinstance(entry, str):
                raise ValueError(entry)
            plan = _source_line(entry)
            key = frozenset((plan.clip_a_id, plan.clip_b_id))
            if key in seen:
                raise ValueError(f"the same pair as line {seen[key]}")
            seen[key] = number
            planned.append(plan)
        except ValueError as exc:
            refusals.append(f"line {number}: {exc}")
    if refusals:
        shown = refusals[:MAX_REFUSALS_SHOWN]
        more = len(refusals) - len(shown)
        raise BuildRefused(
            f"{path.name}: {len(refusals)} bad line(s), nothing written:\n" + "\n".join(shown)
            + (f"\n… and {more} more" if more else ""),
            lines=refusals,
        )
    if not planned:
        raise BuildRefused(f"{path.name}: no pairs in the file")
    return planned


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
